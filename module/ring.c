// SPDX-License-Identifier: GPL-2.0
/*
 * tcptrace: per-CPU record buffer.
 *
 * Built on the kernel's lockless per-CPU ring buffer (the one ftrace uses)
 * in producer mode: when a CPU's buffer is full, new records are dropped,
 * never old ones overwritten, and each drop is counted on that CPU.  A drop
 * is reported in-band exactly once, either in hdr.lost_before of the next
 * record that CPU manages to write, or as a TCPTRACE_REC_LOST record that
 * read() synthesizes once that CPU's buffer has been drained.
 */
#include <linux/ring_buffer.h>
#include <linux/percpu.h>
#include <linux/uaccess.h>
#include <linux/mutex.h>
#include <linux/ktime.h>
#include <linux/limits.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/pid_namespace.h>
#include <linux/string.h>

#include "tcptrace.h"
#include "compat.h"

struct tcptrace_cpu {
	u64		produced;	/* written by the owning CPU only */
	u64		lost;		/* written by the owning CPU only */
	atomic64_t	unreported;	/* drops not yet reported in-band */
	u64		delivered;	/* under tcptrace_read_mutex */
	u64		filtered;	/* other namespaces', not delivered */
	u64		staged;		/* in tcptrace_stage, under the mutex */
	/*
	 * Drops reported by records a scoped reader did not get, to be
	 * reported to it in a loss record: under the mutex (read without
	 * it by tcptrace_ring_has_data()).
	 */
	u64		carried;
	/* counter values at the last reset, under tcptrace_read_mutex */
	u64		base_produced;
	u64		base_lost;
	u64		base_delivered;
};

/*
 * Each CPU's oldest record, already taken off its ring by the reader and
 * not yet delivered: merging CPUs by time needs every CPU's head, and a
 * copy here costs one ring operation per record instead of a peek and a
 * consume.  Only the reader touches it, under tcptrace_read_mutex.
 */
struct tcptrace_head {
	u16	len;		/* 0: empty */
	u8	rec[TCPTRACE_READ_MIN] __aligned(8);
};

static DEFINE_PER_CPU(struct tcptrace_cpu, tcptrace_cpu);
static DEFINE_PER_CPU(struct tcptrace_head, tcptrace_head);
static struct trace_buffer *tcptrace_rb;
/* Serializes consumers, the heads, and the reset baselines. */
static DEFINE_MUTEX(tcptrace_read_mutex);
/* CPUs a read() found drained: not looked at again in that read() */
static struct cpumask tcptrace_drained;
/*
 * Whole records on their way to userspace: one copy_to_user() per read()
 * rather than one per record.  What a faulting copy leaves here goes out
 * first on the next read().  Under tcptrace_read_mutex.
 */
#define TCPTRACE_STAGE_BYTES	(16 * 1024)
static struct {
	u8	buf[TCPTRACE_STAGE_BYTES] __aligned(8);
	size_t	len;
} tcptrace_stage;

/*
 * Records one read() may take off the rings, delivered or filtered out:
 * a reader scoped to a namespace discards other namespaces' records, and
 * a host that keeps making them must not keep it in the kernel.  With
 * the mutex held and preemption possible only between batches, that is
 * a few milliseconds.  Under tcptrace_read_mutex.
 */
#define TCPTRACE_READ_BUDGET	4096
static unsigned int tcptrace_budget;

int tcptrace_ring_init(unsigned long bytes_per_cpu)
{
	int cpu;

	for_each_possible_cpu(cpu)
		atomic64_set(&per_cpu_ptr(&tcptrace_cpu, cpu)->unreported, 0);

	/* flags 0: no RB_FL_OVERWRITE, a full buffer rejects new events */
	tcptrace_rb = ring_buffer_alloc(bytes_per_cpu, 0);
	return tcptrace_rb ? 0 : -ENOMEM;
}

void tcptrace_ring_exit(void)
{
	ring_buffer_free(tcptrace_rb);
	tcptrace_rb = NULL;
}

u8 tcptrace_ctx(void)
{
	/*
	 * A task with bottom halves disabled may be doing the network's
	 * work, not its own (receive processing run inline on its way out):
	 * current is then no more the socket's task than in softirq.
	 */
	if (in_task() && !in_softirq())
		return current->flags & PF_KTHREAD ? TCPTRACE_CTX_KTHREAD :
						     TCPTRACE_CTX_TASK;
	if (in_task())
		return TCPTRACE_CTX_SOFTIRQ;
	if (in_nmi())
		return TCPTRACE_CTX_NMI;
	if (in_hardirq())
		return TCPTRACE_CTX_HARDIRQ;
	return TCPTRACE_CTX_SOFTIRQ;
}

void tcptrace_task_ident(struct tcptrace_state_rec *r)
{
	struct pid_namespace *ns;

	/* tcptrace_ctx() decided, in tcptrace_hdr_init(), whose work it is */
	if (r->hdr.ctx != TCPTRACE_CTX_TASK && r->hdr.ctx != TCPTRACE_CTX_KTHREAD)
		return;
	/* NULL once an exiting task is unhashed */
	ns = task_active_pid_ns(current);
	if (!ns)
		return;
	r->pid = task_tgid_nr(current);
	r->tid = task_pid_nr(current);
	r->pidns_ino = ns->ns.inum;
	r->vpid = task_tgid_nr_ns(current, ns);
	r->vtid = task_pid_nr_ns(current, ns);
	memcpy(r->comm, current->comm, sizeof(r->comm));
}

void tcptrace_hdr_init(struct tcptrace_hdr *hdr, u16 type, u16 size,
		       u8 version)
{
	hdr->type = type;
	hdr->size = size;
	hdr->version = version;
	hdr->ctx = tcptrace_ctx();
	hdr->ts_ns = ktime_get_ns();
}

/* Take up to U32_MAX unreported drops off @c for a record header. */
static u32 tcptrace_take_unreported(struct tcptrace_cpu *c)
{
	s64 n;

	if (likely(!atomic64_read(&c->unreported)))
		return 0;
	n = atomic64_xchg(&c->unreported, 0);
	if (n > U32_MAX) {
		atomic64_add(n - U32_MAX, &c->unreported);
		n = U32_MAX;
	}
	return n;
}

/*
 * Write one record from probe context: never sleeps, never allocates,
 * never wakes anybody directly.
 */
void tcptrace_ring_emit(struct tcptrace_hdr *hdr)
{
	struct tcptrace_cpu *c;

	if (!tcptrace_wants(hdr->type))
		return;

	preempt_disable_notrace();
	c = this_cpu_ptr(&tcptrace_cpu);
	hdr->cpu = smp_processor_id();
	hdr->lost_before = tcptrace_take_unreported(c);
	if (unlikely(ring_buffer_write(tcptrace_rb, hdr->size, hdr))) {
		atomic64_add((s64)hdr->lost_before + 1, &c->unreported);
		this_cpu_inc(tcptrace_cpu.lost);
	} else {
		this_cpu_inc(tcptrace_cpu.produced);
		tcptrace_dev_wake();
	}
	preempt_enable_notrace();
}

/* Drops some CPU has not reported in-band yet, or a filtered record carried. */
static bool tcptrace_any_loss_to_report(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct tcptrace_cpu *c = per_cpu_ptr(&tcptrace_cpu, cpu);

		if (atomic64_read(&c->unreported) || READ_ONCE(c->carried))
			return true;
	}
	return false;
}

static bool tcptrace_any_head(void)
{
	int cpu;

	for_each_possible_cpu(cpu)
		if (READ_ONCE(per_cpu_ptr(&tcptrace_head, cpu)->len))
			return true;
	return false;
}

bool tcptrace_ring_has_data(void)
{
	/* the stage: what a faulting read() left */
	return READ_ONCE(tcptrace_stage.len) ||
	       !ring_buffer_empty(tcptrace_rb) || tcptrace_any_head() ||
	       tcptrace_any_loss_to_report();
}

/*
 * Take @cpu's oldest record off its ring, or NULL when it has none.  The
 * record stays readable until the next ring operation on @cpu.
 */
static const struct tcptrace_hdr *tcptrace_consume(int cpu)
{
	const struct tcptrace_hdr *hdr;
	struct ring_buffer_event *ev;

	for (;;) {
		ev = ring_buffer_consume(tcptrace_rb, cpu, NULL, NULL);
		if (!ev)
			return NULL;
		hdr = ring_buffer_event_data(ev);
		/* the probes write whole records, none larger than a read */
		if (!WARN_ON_ONCE(hdr->size < sizeof(*hdr) ||
				  hdr->size > TCPTRACE_READ_MIN))
			return hdr;
	}
}

/* @cpu's oldest undelivered record, or NULL when it has none. */
static const struct tcptrace_hdr *tcptrace_head_of(int cpu)
{
	struct tcptrace_head *h = per_cpu_ptr(&tcptrace_head, cpu);
	const struct tcptrace_hdr *hdr;

	if (h->len)
		return (const void *)h->rec;
	hdr = tcptrace_consume(cpu);
	if (!hdr)
		return NULL;
	memcpy(h->rec, hdr, hdr->size);
	WRITE_ONCE(h->len, hdr->size);
	return (const void *)h->rec;
}

/* Records of @cpu that are counted as produced and not yet delivered. */
static u64 tcptrace_undelivered(int cpu)
{
	return ring_buffer_entries_cpu(tcptrace_rb, cpu) +
	       !!per_cpu_ptr(&tcptrace_head, cpu)->len +
	       per_cpu_ptr(&tcptrace_cpu, cpu)->staged;
}

/*
 * Report as a TCPTRACE_REC_LOST record the drops of @cpu that no record
 * the reader got reported: those of a drained CPU, and (@carried) those
 * that records filtered out for another namespace carried.
 */
static void tcptrace_stage_lost(int cpu, bool drained)
{
	struct tcptrace_cpu *c = per_cpu_ptr(&tcptrace_cpu, cpu);
	struct tcptrace_lost_rec rec = {};

	rec.count = c->carried;
	WRITE_ONCE(c->carried, 0);
	if (drained)
		rec.count += atomic64_xchg(&c->unreported, 0);
	if (!rec.count)
		return;
	rec.hdr.type = TCPTRACE_REC_LOST;
	rec.hdr.size = sizeof(rec);
	rec.hdr.version = TCPTRACE_LOST_REC_VERSION;
	rec.hdr.ctx = TCPTRACE_CTX_TASK;
	rec.hdr.cpu = cpu;
	rec.hdr.ts_ns = ktime_get_ns();
	memcpy(tcptrace_stage.buf + tcptrace_stage.len, &rec, sizeof(rec));
	tcptrace_stage.len += sizeof(rec);
}

/*
 * A reader scoped to a network namespace: is this record for it?  Every
 * record about a connection carries the namespace cookie at the same
 * offset (see the UAPI header); other records (loss reports) are for all.
 */
static bool tcptrace_for_reader(const struct tcptrace_hdr *hdr, u64 netns)
{
	u64 cookie;

	if (!netns || hdr->type == TCPTRACE_REC_LOST ||
	    hdr->size < TCPTRACE_NETNS_OFFSET + sizeof(cookie))
		return true;
	memcpy(&cookie, (const u8 *)hdr + TCPTRACE_NETNS_OFFSET,
	       sizeof(cookie));
	return cookie == netns;
}

/*
 * A record this reader does not get: the drops it reported (hdr.
 * lost_before) are reported to it in a TCPTRACE_REC_LOST record at the
 * end of the read (tcptrace_stage_carried()), so that a scoped reader,
 * too, learns of every loss exactly once, and soon.
 */
static void tcptrace_filter_out(const struct tcptrace_hdr *hdr)
{
	struct tcptrace_cpu *c = per_cpu_ptr(&tcptrace_cpu, hdr->cpu);

	if (hdr->lost_before)
		WRITE_ONCE(c->carried, c->carried + hdr->lost_before);
	c->filtered++;
}

/* Loss records for what filtered records carried, while there is room. */
static void tcptrace_stage_carried(size_t room)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		if (tcptrace_stage.len + sizeof(struct tcptrace_lost_rec) > room)
			return;
		if (per_cpu_ptr(&tcptrace_cpu, cpu)->carried)
			tcptrace_stage_lost(cpu, false);
	}
}

/*
 * A reader in a PID namespace other than the initial one gets no global
 * PIDs, and the task fields only of tasks in its own PID namespace.
 */
static void tcptrace_scope_task(struct tcptrace_state_rec *r, u32 pidns)
{
	if (!pidns || r->hdr.type != TCPTRACE_REC_STATE ||
	    r->hdr.size < sizeof(*r))
		return;
	r->pid = 0;
	r->tid = 0;
	if (r->pidns_ino == pidns)
		return;
	r->vpid = 0;
	r->vtid = 0;
	r->pidns_ino = 0;
	memset(r->comm, 0, sizeof(r->comm));
}

/* Stage @cpu's oldest record @hdr, if it is for this reader. */
static void tcptrace_stage_one(const struct tcptrace_hdr *hdr, int cpu,
			       const struct tcptrace_scope *scope)
{
	tcptrace_budget++;
	if (tcptrace_for_reader(hdr, scope->netns)) {
		memcpy(tcptrace_stage.buf + tcptrace_stage.len, hdr, hdr->size);
		tcptrace_scope_task((void *)(tcptrace_stage.buf +
					     tcptrace_stage.len), scope->pidns);
		tcptrace_stage.len += hdr->size;
		per_cpu_ptr(&tcptrace_cpu, cpu)->staged++;
	} else {
		tcptrace_filter_out(hdr);
	}
}

/*
 * @cpu is the only one left with records: nothing to merge, so they go
 * from its ring straight to the stage, not through its head.
 */
static void tcptrace_stage_drain(int cpu, size_t room,
				 const struct tcptrace_scope *scope)
{
	const struct tcptrace_hdr *hdr;

	while (tcptrace_stage.len + TCPTRACE_READ_MIN <= room &&
	       tcptrace_budget < TCPTRACE_READ_BUDGET) {
		hdr = tcptrace_consume(cpu);
		if (!hdr)
			return;
		tcptrace_stage_one(hdr, cpu, scope);
	}
}

/*
 * Stage records, oldest first across CPUs, until fewer than @room bytes
 * are left.  A CPU found drained is not looked at again until the next
 * read(): one ring operation per record, not one per CPU per record.
 */
static void tcptrace_stage_fill(size_t room,
				const struct tcptrace_scope *scope)
{
	while (tcptrace_stage.len + TCPTRACE_READ_MIN <= room &&
	       tcptrace_budget < TCPTRACE_READ_BUDGET) {
		const struct tcptrace_hdr *best = NULL, *hdr;
		int cpu, best_cpu = 0, live = 0;

		for_each_possible_cpu(cpu) {
			if (cpumask_test_cpu(cpu, &tcptrace_drained))
				continue;
			hdr = tcptrace_head_of(cpu);
			if (!hdr) {
				cpumask_set_cpu(cpu, &tcptrace_drained);
				tcptrace_stage_lost(cpu, true);
				if (tcptrace_stage.len + TCPTRACE_READ_MIN > room)
					return;
				continue;
			}
			live++;
			if (!best || hdr->ts_ns < best->ts_ns) {
				best = hdr;
				best_cpu = cpu;
			}
		}
		if (!best)
			return;
		tcptrace_stage_one(best, best_cpu, scope);
		WRITE_ONCE(per_cpu_ptr(&tcptrace_head, best_cpu)->len, 0);
		if (live == 1)
			tcptrace_stage_drain(best_cpu, room, scope);
	}
}

/* The size of the staged record at @off. */
static u16 tcptrace_stage_size(size_t off)
{
	return ((const struct tcptrace_hdr *)(tcptrace_stage.buf + off))->size;
}

/* Bytes of the whole staged records that fit in the first @limit. */
static size_t tcptrace_stage_whole(size_t limit)
{
	size_t n = 0;

	while (n < tcptrace_stage.len && n + tcptrace_stage_size(n) <= limit)
		n += tcptrace_stage_size(n);
	return n;
}

/*
 * What a faulting read() left was staged for that reader: a reader scoped
 * to a namespace gets none of it that is another namespace's.
 */
static void tcptrace_stage_scope(const struct tcptrace_scope *scope)
{
	size_t off = 0, keep = 0;
	u16 size;

	while (off < tcptrace_stage.len) {
		struct tcptrace_hdr *h = (void *)(tcptrace_stage.buf + off);

		size = h->size;
		if (tcptrace_for_reader(h, scope->netns)) {
			tcptrace_scope_task((void *)h, scope->pidns);
			memmove(tcptrace_stage.buf + keep, h, size);
			keep += size;
		} else {
			per_cpu_ptr(&tcptrace_cpu, h->cpu)->staged--;
			tcptrace_filter_out(h);
		}
		off += size;
	}
	tcptrace_stage.len = keep;
}

/*
 * Hand the first whole records of the stage, at most @count bytes, to
 * @buf.  Returns the bytes delivered: the whole records copied before a
 * fault, if one came; -EFAULT if none was (the stage is kept).
 */
static ssize_t tcptrace_stage_deliver(char __user *buf, size_t count)
{
	size_t n = tcptrace_stage_whole(count), left, off;

	left = copy_to_user(buf, tcptrace_stage.buf, n);
	if (left) {
		/* the whole records that made it before the fault */
		n = tcptrace_stage_whole(n - left);
		if (!n)
			return -EFAULT;
	}
	for (off = 0; off < n; off += tcptrace_stage_size(off)) {
		const struct tcptrace_hdr *h = (const void *)
					       (tcptrace_stage.buf + off);
		struct tcptrace_cpu *c = per_cpu_ptr(&tcptrace_cpu, h->cpu);

		if (h->type != TCPTRACE_REC_LOST) {
			c->staged--;
			c->delivered++;
		}
	}
	tcptrace_stage.len -= n;
	memmove(tcptrace_stage.buf, tcptrace_stage.buf + n,
		tcptrace_stage.len);
	return n;
}

/*
 * Copy whole records, oldest first across CPUs, into @buf.  Returns the
 * number of bytes copied, 0 when there is nothing to read, -EBUSY when
 * nothing was for this reader among the records this call could look at
 * (more are waiting), or -EFAULT when nothing could be copied.  A record
 * counts as delivered only once it has reached userspace, and a fault
 * loses nothing.
 */
ssize_t tcptrace_ring_read(char __user *buf, size_t count,
			   const struct tcptrace_scope *scope)
{
	size_t done = 0;
	ssize_t ret = 0;
	bool spent;

	mutex_lock(&tcptrace_read_mutex);
	cpumask_clear(&tcptrace_drained);
	tcptrace_budget = 0;
	if ((scope->netns || scope->pidns) && tcptrace_stage.len)
		tcptrace_stage_scope(scope);
	while (count - done >= TCPTRACE_READ_MIN) {
		size_t room = min_t(size_t, count - done,
				    sizeof(tcptrace_stage.buf));

		tcptrace_stage_fill(room, scope);
		tcptrace_stage_carried(room);
		if (!tcptrace_stage.len)
			break;
		ret = tcptrace_stage_deliver(buf + done, count - done);
		if (ret <= 0)
			break;
		done += ret;
		/* a large buffer: whole batches, then the budget */
		if (tcptrace_budget >= TCPTRACE_READ_BUDGET ||
		    signal_pending(current))
			break;
		cond_resched();
	}
	spent = tcptrace_budget >= TCPTRACE_READ_BUDGET;
	mutex_unlock(&tcptrace_read_mutex);
	if (done)
		return done;
	/* nothing for this reader yet, but more records to look at */
	return ret < 0 ? ret : spent ? -EBUSY : 0;
}

int tcptrace_ring_stats(struct tcptrace_stats *st,
			struct tcptrace_cpu_stats __user *ucpus)
{
	u32 room = st->nr_cpus, n = 0;
	int cpu;

	st->abi_version = TCPTRACE_ABI_VERSION;
	st->produced = 0;
	st->lost = 0;
	st->delivered = 0;
	st->buffered = 0;

	mutex_lock(&tcptrace_read_mutex);
	for_each_possible_cpu(cpu) {
		struct tcptrace_cpu *c = per_cpu_ptr(&tcptrace_cpu, cpu);
		struct tcptrace_cpu_stats cs = {};

		cs.cpu = cpu;
		cs.produced = READ_ONCE(c->produced) - c->base_produced;
		cs.lost = READ_ONCE(c->lost) - c->base_lost;
		cs.delivered = c->delivered + c->filtered - c->base_delivered;
		cs.buffered = tcptrace_undelivered(cpu);
		cs.buffer_bytes = ring_buffer_size(tcptrace_rb, cpu);

		st->produced += cs.produced;
		st->lost += cs.lost;
		st->delivered += cs.delivered;
		st->buffered += cs.buffered;
		if (ucpus && n < room) {
			if (copy_to_user(&ucpus[n], &cs, sizeof(cs))) {
				mutex_unlock(&tcptrace_read_mutex);
				return -EFAULT;
			}
		}
		n++;
	}
	mutex_unlock(&tcptrace_read_mutex);
	st->nr_cpus = ucpus ? min(n, room) : n;
	return 0;
}

/*
 * Counters are never written from here (the probes own them); a reset
 * moves the baselines instead.  Records still buffered count as produced
 * after the reset, since they are delivered after it: produced =
 * delivered + buffered holds across a reset (up to records written while
 * it runs).
 */
void tcptrace_ring_reset(void)
{
	int cpu;

	mutex_lock(&tcptrace_read_mutex);
	for_each_possible_cpu(cpu) {
		struct tcptrace_cpu *c = per_cpu_ptr(&tcptrace_cpu, cpu);

		c->base_produced = READ_ONCE(c->produced) -
				   tcptrace_undelivered(cpu);
		c->base_lost = READ_ONCE(c->lost);
		c->base_delivered = c->delivered + c->filtered;
	}
	mutex_unlock(&tcptrace_read_mutex);
}
