// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: trace TCP connections in-kernel.
 *
 * Module entry points and parameters.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>

#include "tcptrace.h"
#include "conntable.h"
#include "reasons.h"

#define TCPTRACE_BUF_MIN	SZ_8K
#define TCPTRACE_BUF_MAX	SZ_256M

static unsigned long buf_size = SZ_256K;
module_param(buf_size, ulong, 0444);
MODULE_PARM_DESC(buf_size,
		 "Record buffer per CPU, bytes (8 KiB .. 256 MiB, default 256 KiB)");

static unsigned int conn_table_size = 4096;
module_param(conn_table_size, uint, 0444);
MODULE_PARM_DESC(conn_table_size,
		 "Connections tracked at once (64 .. 1048576, default 4096)");

static unsigned int hs_timeout = 180;
module_param(hs_timeout, uint, 0444);
MODULE_PARM_DESC(hs_timeout,
		 "Seconds before an incomplete handshake is reported (1 .. 3600, default 180)");

static unsigned int syn_timeout_ms = 1000;
module_param(syn_timeout_ms, uint, 0444);
MODULE_PARM_DESC(syn_timeout_ms,
		 "Report a SYN nothing answered after this long, ms (100 .. 60000, default 1000)");

/*
 * For the tests: fail the load just before step N of tcptrace_init() (1
 * buffer, 2 table, 3 probes, 4 hooks, 5 device) as if it had failed, so
 * that each unwind path runs on a real kernel, racing traffic and openers.
 */
static unsigned int fail_init_step;
module_param(fail_init_step, uint, 0444);
MODULE_PARM_DESC(fail_init_step,
		 "Testing: fail loading before step N (1..5), 0: never");

static int __init tcptrace_step(unsigned int step)
{
	if (step != fail_init_step)
		return 0;
	pr_info("failing the load at step %u, as asked\n", step);
	return -ENOMEM;
}

static int __init tcptrace_check_range(const char *name, unsigned long v,
				       unsigned long lo, unsigned long hi)
{
	if (v >= lo && v <= hi)
		return 0;
	pr_err("%s=%lu out of range [%lu, %lu]\n", name, v, lo, hi);
	return -EINVAL;
}

static int __init tcptrace_init(void)
{
	int ret;

	ret = tcptrace_check_range("buf_size", buf_size, TCPTRACE_BUF_MIN,
				   TCPTRACE_BUF_MAX) ?:
	      tcptrace_check_range("conn_table_size", conn_table_size, 64,
				   1 << 20) ?:
	      tcptrace_check_range("hs_timeout", hs_timeout, 1, 3600) ?:
	      tcptrace_check_range("syn_timeout_ms", syn_timeout_ms, 100, 60000);
	if (ret)
		return ret;
	ret = tcptrace_step(1) ?: tcptrace_ring_init(buf_size);
	if (ret)
		return ret;
	ret = tcptrace_step(2) ?:
	      tcptrace_conn_init(conn_table_size, hs_timeout, syn_timeout_ms);
	if (ret)
		goto err_ring;
	tcptrace_reasons_init();
	ret = tcptrace_step(3) ?: tcptrace_probes_init();
	if (ret)
		goto err_conn;
	ret = tcptrace_step(4) ?: tcptrace_nf_init();
	if (ret)
		goto err_probes;
	/*
	 * The device last: once it exists a reader can open it and pin the
	 * module, so nothing after it may fail.
	 */
	ret = tcptrace_step(5) ?: tcptrace_dev_init();
	if (ret)
		goto err_nf;
	pr_info("loaded, ABI %u, %lu bytes per CPU\n", TCPTRACE_ABI_VERSION,
		buf_size);
	return 0;

err_nf:
	tcptrace_nf_exit();
err_probes:
	tcptrace_probes_exit();
err_conn:
	tcptrace_conn_exit();
err_ring:
	tcptrace_ring_exit();
	return ret;
}

static void __exit tcptrace_exit(void)
{
	/*
	 * An open /dev/tcptrace holds a module reference, so no reader
	 * exists here.  Probes first, so no new table entry can appear while
	 * the hooks' pernet exits purge each namespace's; then the table's
	 * scan, the last thing that emits records; then the device, whose
	 * exit waits for the wakeup those records queued; then the buffer.
	 */
	tcptrace_probes_exit();
	tcptrace_nf_exit();
	tcptrace_conn_exit();
	tcptrace_dev_exit();
	tcptrace_ring_exit();
}

module_init(tcptrace_init);
module_exit(tcptrace_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Trace TCP connections: state transitions, per socket");
MODULE_VERSION(TCPTRACE_VERSION);
