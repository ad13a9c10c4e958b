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

#define TCPTRACE_BUF_MIN	SZ_8K
#define TCPTRACE_BUF_MAX	SZ_256M

static unsigned long buf_size = SZ_256K;
module_param(buf_size, ulong, 0444);
MODULE_PARM_DESC(buf_size,
		 "Record buffer per CPU, bytes (8 KiB .. 256 MiB, default 256 KiB)");

static int __init tcptrace_init(void)
{
	int ret;

	if (buf_size < TCPTRACE_BUF_MIN || buf_size > TCPTRACE_BUF_MAX) {
		pr_err("buf_size=%lu out of range [%u, %u]\n", buf_size,
		       TCPTRACE_BUF_MIN, TCPTRACE_BUF_MAX);
		return -EINVAL;
	}
	ret = tcptrace_ring_init(buf_size);
	if (ret)
		return ret;
	ret = tcptrace_dev_init();
	if (ret)
		goto err_ring;
	ret = tcptrace_probes_init();
	if (ret)
		goto err_dev;
	pr_info("loaded, ABI %u, %lu bytes per CPU\n", TCPTRACE_ABI_VERSION,
		buf_size);
	return 0;

err_dev:
	tcptrace_dev_exit();
err_ring:
	tcptrace_ring_exit();
	return ret;
}

static void __exit tcptrace_exit(void)
{
	/*
	 * An open /dev/tcptrace holds a module reference, so no reader
	 * exists here.  Probes first, then the device's wakeup work, then
	 * the buffer they write to.
	 */
	tcptrace_probes_exit();
	tcptrace_dev_exit();
	tcptrace_ring_exit();
}

module_init(tcptrace_init);
module_exit(tcptrace_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Trace TCP connections: state transitions, per socket");
MODULE_VERSION(TCPTRACE_VERSION);
