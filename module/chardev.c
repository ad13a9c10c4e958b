// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: /dev/tcptrace, the one way records leave the kernel.
 *
 * One reader at a time: a second open() gets -EBUSY, so every record is
 * delivered exactly once, to one consumer.  The device is 0600 and open()
 * also wants CAP_NET_ADMIN over the opener's network namespace.  A reader
 * in the initial network namespace sees every namespace; any other reader
 * (a container) sees only the connections of its own.  A reader in a PID
 * namespace other than the initial one sees no global PIDs, and the task
 * of a transition only if it is in that PID namespace.
 */
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/wait.h>
#include <linux/irq_work.h>
#include <linux/capability.h>
#include <linux/nsproxy.h>
#include <linux/pid_namespace.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/compat.h>
#include <net/net_namespace.h>

#include "tcptrace.h"
#include "conntable.h"
#include "compat.h"

u32 tcptrace_types __read_mostly = TCPTRACE_TYPES_ALL;
static DECLARE_WAIT_QUEUE_HEAD(tcptrace_wq);
static unsigned long tcptrace_busy;
/* What the reader may see; set at open(), one reader at a time. */
static struct tcptrace_scope tcptrace_reader_scope;

static void tcptrace_wake_fn(struct irq_work *work)
{
	wake_up_interruptible_poll(&tcptrace_wq, EPOLLIN | EPOLLRDNORM);
}

/*
 * Lazy: runs on the next tick rather than by self-IPI, so a connection
 * storm costs one wakeup per tick, not one per record.
 */
static struct irq_work tcptrace_wake_work = IRQ_WORK_INIT_LAZY(tcptrace_wake_fn);

/* Called from probe context after a record was written. */
void tcptrace_dev_wake(void)
{
	/* wq_has_sleeper() pairs with the barrier in prepare_to_wait() */
	if (wq_has_sleeper(&tcptrace_wq))
		irq_work_queue(&tcptrace_wake_work);
}

static int tcptrace_open(struct inode *inode, struct file *file)
{
	struct net *net = current->nsproxy->net_ns;
	struct pid_namespace *pidns;

	if (!ns_capable(net->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	if (!TCPTRACE_SCOPED_READERS && !net_eq(net, &init_net))
		return -EOPNOTSUPP;
	if (test_and_set_bit_lock(0, &tcptrace_busy))
		return -EBUSY;
	pidns = task_active_pid_ns(current);
	tcptrace_reader_scope.netns = net_eq(net, &init_net) ? 0 :
				      tcptrace_net_cookie(net);
	tcptrace_reader_scope.pidns = pidns == &init_pid_ns ? 0 :
				      pidns->ns.inum;
	WRITE_ONCE(tcptrace_types, TCPTRACE_TYPES_ALL);
	return stream_open(inode, file);
}

static int tcptrace_release(struct inode *inode, struct file *file)
{
	/* records made with no reader are kept for the next: all of them */
	WRITE_ONCE(tcptrace_types, TCPTRACE_TYPES_ALL);
	clear_bit_unlock(0, &tcptrace_busy);
	return 0;
}

static ssize_t tcptrace_read(struct file *file, char __user *buf,
			     size_t count, loff_t *ppos)
{
	ssize_t ret;

	if (count < TCPTRACE_READ_MIN)
		return -EINVAL;
	for (;;) {
		ret = tcptrace_ring_read(buf, count, &tcptrace_reader_scope);
		if (ret != -EBUSY && ret)
			return ret;
		if (file->f_flags & O_NONBLOCK) {
			/*
			 * More records wait (other namespaces'): another
			 * wakeup, or an edge-triggered poller would hold
			 * them until the next record comes.
			 */
			if (ret == -EBUSY)
				tcptrace_dev_wake();
			return -EAGAIN;
		}
		/*
		 * Nothing for this reader, though there may be records (other
		 * namespaces' while the host is busy): a signal ends the wait,
		 * and others run between two rounds.
		 */
		if (signal_pending(current))
			return -ERESTARTSYS;
		cond_resched();
		ret = wait_event_interruptible(tcptrace_wq,
					       tcptrace_ring_has_data());
		if (ret)
			return ret;
	}
}

static __poll_t tcptrace_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &tcptrace_wq, wait);
	return tcptrace_ring_has_data() ? EPOLLIN | EPOLLRDNORM : 0;
}

static long tcptrace_stats_ioctl(void __user *uarg)
{
	struct tcptrace_stats st;
	int ret;

	if (copy_from_user(&st, uarg, sizeof(st)))
		return -EFAULT;
	ret = tcptrace_ring_stats(&st, u64_to_user_ptr(st.cpus));
	if (ret)
		return ret;
	tcptrace_conn_stats(&st);
	tcptrace_nf_stats(&st);
	if (copy_to_user(uarg, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long tcptrace_set_types(u32 __user *uarg)
{
	u32 types;

	if (get_user(types, uarg))
		return -EFAULT;
	if (!types || (types & ~TCPTRACE_TYPES_ALL))
		return -EINVAL;
	WRITE_ONCE(tcptrace_types, types | 1u << TCPTRACE_REC_LOST);
	return 0;
}

static long tcptrace_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case TCPTRACE_IOC_VERSION:
		return put_user((u32)TCPTRACE_ABI_VERSION, (u32 __user *)uarg);
	case TCPTRACE_IOC_STATS:
		return tcptrace_stats_ioctl(uarg);
	case TCPTRACE_IOC_RESET:
		if (arg)
			return -EINVAL;
		tcptrace_ring_reset();
		return 0;
	case TCPTRACE_IOC_SET_TYPES:
		return tcptrace_set_types(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations tcptrace_fops = {
	.owner		= THIS_MODULE,
	.open		= tcptrace_open,
	.release	= tcptrace_release,
	.read		= tcptrace_read,
	.poll		= tcptrace_poll,
	.unlocked_ioctl	= tcptrace_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice tcptrace_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "tcptrace",
	.fops	= &tcptrace_fops,
	.mode	= 0600,
};

int tcptrace_dev_init(void)
{
	return misc_register(&tcptrace_miscdev);
}

void tcptrace_dev_exit(void)
{
	misc_deregister(&tcptrace_miscdev);
	/* the probes are gone: nothing can queue the work any more */
	irq_work_sync(&tcptrace_wake_work);
}
