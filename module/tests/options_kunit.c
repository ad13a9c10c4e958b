// SPDX-License-Identifier: GPL-2.0
#include <kunit/test.h>
#include <linux/module.h>
#include "../options.h"

static void stub(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1, 1);
}

static struct kunit_case cases[] = {
	KUNIT_CASE(stub),
	{}
};

static struct kunit_suite suite = {
	.name = "tcptrace_options",
	.test_cases = cases,
};
kunit_test_suite(suite);
MODULE_LICENSE("GPL");
