/*
 * test_bootstrap.c
 *	  Unit tests of the bootstrap rule: a node's bootstrap membership may
 *	  change members' addresses across restarts, nothing else
 *	  (raft_bootstrap_check, raft.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "raft.h"

/* A membership of voters with the given ids and "host=nodeN" addresses. */
static raft_membership
voters(int count, const raft_id *ids, const char *host_prefix)
{
	raft_membership m;

	memset(&m, 0, sizeof(m));
	m.count = count;
	for (int i = 0; i < count; i++)
	{
		m.members[i].id = ids[i];
		m.members[i].voter = true;
		snprintf(m.members[i].address, RAFT_MAX_ADDRESS, "host=%s%u",
				 host_prefix, ids[i]);
	}
	return m;
}

/* Run the rule; *culprit receives the member it names. */
static int
check(const raft_membership *persisted, const raft_membership *configured,
	  raft_membership *effective, raft_id *culprit)
{
	const char *why = NULL;
	int			rc = raft_bootstrap_check(persisted, configured, effective,
										  culprit, &why);

	/* A refusal always says why; an acceptance names nobody. */
	if (rc == RAFT_OK)
		assert_int_equal(*culprit, RAFT_NOBODY);
	else
		assert_non_null(why);
	return rc;
}

/* Run the rule, which must refuse: returns the member it names. */
static raft_id
refused(const raft_membership *persisted, const raft_membership *configured)
{
	raft_membership effective;
	raft_id		culprit;

	assert_int_equal(check(persisted, configured, &effective, &culprit),
					 RAFT_EINVAL);
	return culprit;
}

/* The same members in another order and with new addresses are accepted. */
static void
test_bootstrap_address_change_allowed(void **state)
{
	const raft_id ids[] = {1, 2, 3};
	const raft_id reordered[] = {3, 1, 2};
	raft_membership persisted = voters(3, ids, "old");
	raft_membership configured = voters(3, reordered, "new");
	raft_membership effective;
	raft_id		culprit;

	(void) state;
	assert_int_equal(check(&persisted, &configured, &effective, &culprit), RAFT_OK);
	assert_int_equal(effective.count, 3);
	/* The persisted order and rights, the configured addresses. */
	for (int i = 0; i < 3; i++)
	{
		char		expect[32];

		assert_int_equal(effective.members[i].id, ids[i]);
		assert_true(effective.members[i].voter);
		snprintf(expect, sizeof(expect), "host=new%u", ids[i]);
		assert_string_equal(effective.members[i].address, expect);
	}
}

/* A member replaced by another (the reviewed case: 3 -> 5) is refused. */
static void
test_bootstrap_member_replaced_refused(void **state)
{
	const raft_id ids[] = {1, 2, 3};
	const raft_id replaced[] = {1, 2, 5};
	raft_membership persisted = voters(3, ids, "n");
	raft_membership configured = voters(3, replaced, "n");

	(void) state;
	assert_int_equal(refused(&persisted, &configured), 3);
}

/* A member added to or removed from the configured list is refused. */
static void
test_bootstrap_member_added_or_removed_refused(void **state)
{
	const raft_id three[] = {1, 2, 3};
	const raft_id four[] = {1, 2, 3, 4};
	raft_membership m3 = voters(3, three, "n");
	raft_membership m4 = voters(4, four, "n");

	(void) state;
	assert_int_equal(refused(&m3, &m4), 4);
	assert_int_equal(refused(&m4, &m3), 4);
}

/* A member that changes between voter and non-voter is refused. */
static void
test_bootstrap_voting_right_change_refused(void **state)
{
	const raft_id ids[] = {1, 2, 3};
	raft_membership persisted = voters(3, ids, "n");
	raft_membership configured = persisted;

	(void) state;
	configured.members[1].voter = false;
	assert_int_equal(refused(&persisted, &configured), 2);
}

/* An impossible member count (corrupt input) is refused, not trusted. */
static void
test_bootstrap_impossible_count_refused(void **state)
{
	const raft_id ids[] = {1};
	raft_membership persisted = voters(1, ids, "n");
	raft_membership configured = persisted;

	(void) state;
	persisted.count = RAFT_MAX_MEMBERS + 1;
	(void) refused(&persisted, &configured);
	persisted.count = -1;
	(void) refused(&persisted, &configured);
}

/* Run the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bootstrap_address_change_allowed),
		cmocka_unit_test(test_bootstrap_member_replaced_refused),
		cmocka_unit_test(test_bootstrap_member_added_or_removed_refused),
		cmocka_unit_test(test_bootstrap_voting_right_change_refused),
		cmocka_unit_test(test_bootstrap_impossible_count_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
