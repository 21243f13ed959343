/*
 * harness.c
 *	  The in-memory cluster used by the engine's unit tests (see harness.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

/* Duplicate a payload (NULL for empty). */
static uint8_t *
dup_bytes(const uint8_t *data, uint32_t len)
{
	uint8_t    *p;

	if (len == 0)
		return NULL;
	p = malloc(len);
	assert_non_null(p);
	memcpy(p, data, len);
	return p;
}

/* Options as the harness uses them. */
void
h_default_options(raft_options *o, raft_id id)
{
	raft_options_init(o, id);
	o->heartbeat_interval = H_HB;
	o->election_timeout = H_ET;
	o->election_spread = H_SPREAD;
	o->lease_drift_margin = H_MARGIN;
	o->rank_step = H_HB / 2;
	o->rank_jitter = 2;
	o->seed = 1000 + id;
	o->prevote = false;
	o->check_quorum = false;
	o->max_position_lag = RAFT_POSITION_ANY;
}

/* Prepare n voters with default options. */
void
h_setup(h_net *net, int n)
{
	memset(net, 0, sizeof(*net));
	assert_true(n >= 1 && n <= H_MAX);
	net->n = n;
	net->now = H_T0;
	net->boot.count = n;
	for (int i = 1; i <= n; i++)
	{
		h_default_options(&net->opts[i], (raft_id) i);
		net->boot.members[i - 1].id = (raft_id) i;
		net->boot.members[i - 1].voter = true;
		snprintf(net->boot.members[i - 1].address, RAFT_MAX_ADDRESS,
				 "node%d", i);
	}
}

/* Create node id from its disk. */
static void
create_node(h_net *net, raft_id id)
{
	h_disk	   *d = &net->disk[id];
	raft_node  *node;

	node = raft_new(&net->opts[id], &d->hs, &net->boot, net->now);
	assert_non_null(node);
	for (size_t i = 0; i < d->len; i++)
		assert_int_equal(raft_restore_entry(node, &d->log[i]), RAFT_OK);
	net->nodes[id] = node;
	net->down[id] = false;
}

/* Create every node. */
void
h_start(h_net *net)
{
	for (int i = 1; i <= net->n; i++)
		create_node(net, (raft_id) i);
}

/* Set up and start n nodes. */
void
h_init(h_net *net, int n)
{
	h_setup(net, n);
	h_start(net);
}

/* Allocate the cluster a fixture sets up; the test finds it in *state. */
h_net *
h_fixture(void **state)
{
	h_net	   *net = calloc(1, sizeof(h_net));

	assert_non_null(net);
	*state = net;
	return net;
}

/* Fixture teardown: destroy and free the cluster. */
int
h_teardown(void **state)
{
	h_destroy(*state);
	free(*state);
	return 0;
}

/* Fixture: three sticky voters with PreVote. */
int
h_sticky(void **state)
{
	h_init_sticky(h_fixture(state), 3, true);
	return 0;
}

/* Fixture: h_sticky, node 1 elected. */
int
h_sticky_elected(void **state)
{
	h_sticky(state);
	h_elect(*state, 1);
	return 0;
}

/* Fixture: h_sticky_elected, one heartbeat round acknowledged. */
int
h_sticky_led(void **state)
{
	h_sticky_elected(state);
	h_run(*state, H_HB, 1);
	return 0;
}

/* Fixture: three voters, started. */
int
h_three(void **state)
{
	h_init(h_fixture(state), 3);
	return 0;
}

/* Fixture: three voters, node 1 the leader. */
int
h_three_led(void **state)
{
	h_net	   *net = h_fixture(state);

	h_init(net, 3);
	h_elect(net, 1);
	return 0;
}

/* n voters with CheckQuorum on, PreVote as given (not yet created). */
void
h_setup_sticky(h_net *net, int n, bool prevote)
{
	h_setup(net, n);
	for (int i = 1; i <= n; i++)
	{
		net->opts[i].prevote = prevote;
		net->opts[i].check_quorum = true;
	}
}

/* h_setup_sticky, then create the nodes. */
void
h_init_sticky(h_net *net, int n, bool prevote)
{
	h_setup_sticky(net, n, prevote);
	h_start(net);
}

/* Append an entry to a disk, copying its payload. */
static void
disk_append(h_disk *d, const raft_entry *e)
{
	if (d->len == d->cap)
	{
		d->cap = d->cap == 0 ? 64 : d->cap * 2;
		d->log = realloc(d->log, d->cap * sizeof(raft_entry));
		assert_non_null(d->log);
	}
	d->log[d->len] = *e;
	d->log[d->len].data = dup_bytes(e->data, e->len);
	d->len++;
}

/* Drop a disk's entries from index 'from'. */
static void
disk_truncate(h_disk *d, raft_index from)
{
	while (d->len > 0 && d->log[d->len - 1].index >= from)
	{
		free((void *) d->log[d->len - 1].data);
		d->len--;
	}
}

/* Give a node a persisted log (terms[i] is the term of index i + 1). */
void
h_preload(h_net *net, raft_id id, const raft_term *terms, int count,
		  raft_term term)
{
	h_disk	   *d = &net->disk[id];

	for (int i = 0; i < count; i++)
	{
		raft_entry	e;

		memset(&e, 0, sizeof(e));
		e.term = terms[i];
		e.index = (raft_index) i + 1;
		e.type = RAFT_ENTRY_NORMAL;
		disk_append(d, &e);
	}
	d->hs.term = term;
}

/* Free a queued message's payloads. */
static void
free_msg(h_msg *hm)
{
	for (uint32_t i = 0; i < hm->m.n_entries; i++)
		free((void *) hm->ents[i].data);
}

/* Free everything. */
void
h_destroy(h_net *net)
{
	for (int i = 1; i <= net->n; i++)
	{
		raft_free(net->nodes[i]);
		disk_truncate(&net->disk[i], 0);
		free(net->disk[i].log);
	}
	for (size_t i = 0; i < net->nq; i++)
		free_msg(&net->q[i]);
	free(net->q);
}

/* Node by id. */
raft_node *
h_node(h_net *net, raft_id id)
{
	return net->nodes[id];
}

/* Queue a deep copy of a message. */
static void
queue_msg(h_net *net, const raft_message *m)
{
	h_msg	   *hm;

	if (net->nq == net->capq)
	{
		net->capq = net->capq == 0 ? 64 : net->capq * 2;
		net->q = realloc(net->q, net->capq * sizeof(h_msg));
		assert_non_null(net->q);
	}
	hm = &net->q[net->nq++];
	hm->m = *m;
	assert_true(m->n_entries <= RAFT_MAX_ENTRIES_PER_MSG);
	for (uint32_t i = 0; i < m->n_entries; i++)
	{
		hm->ents[i] = m->entries[i];
		hm->ents[i].data = dup_bytes(m->entries[i].data, m->entries[i].len);
	}
	hm->m.entries = m->n_entries > 0 ? hm->ents : NULL;
}

/* Process one node's ready batch. */
bool
h_ready(h_net *net, raft_id id)
{
	raft_node  *node = net->nodes[id];
	h_disk	   *d = &net->disk[id];
	raft_ready	r;

	if (node == NULL || net->down[id] || !raft_has_ready(node))
		return false;
	raft_get_ready(node, &r);
	if (r.hard_state_changed)
		d->hs = r.hard_state;
	d->hs.commit = r.hard_state.commit;
	if (r.truncate_from != 0)
		disk_truncate(d, r.truncate_from);
	for (size_t i = 0; i < r.n_entries; i++)
	{
		assert_int_equal(r.entries[i].index, d->len + 1);
		disk_append(d, &r.entries[i]);
	}
	for (size_t i = 0; i < r.n_messages; i++)
		queue_msg(net, &r.messages[i]);
	for (size_t i = 0; i < r.n_committed; i++)
	{
		raft_index	idx = r.committed[i].index;

		assert_int_equal(idx, net->applied[id] + 1);
		if (idx < 512)
			net->applied_term[id][idx] = r.committed[i].term;
		net->applied[id] = idx;
	}
	if (r.role_changed)
		net->role_changes[id]++;
	net->lease[id] = r.lease_until;
	if (r.membership_changed)
		net->membership_changed[id] = true;
	raft_advance(node, net->now);
	return true;
}

/* Process readies until no node has one. */
void
h_flush(h_net *net)
{
	bool		any = true;

	while (any)
	{
		any = false;
		for (int i = 1; i <= net->n; i++)
			if (h_ready(net, (raft_id) i))
				any = true;
	}
}

/* Remove queued message i (keeping order). */
static void
remove_at(h_net *net, size_t i)
{
	free_msg(&net->q[i]);
	memmove(&net->q[i], &net->q[i + 1], (net->nq - i - 1) * sizeof(h_msg));
	net->nq--;
}

/* Deliver queued message i and drop it from the queue. */
void
h_deliver_at(h_net *net, size_t i)
{
	h_msg		hm = net->q[i];
	raft_id		to = hm.m.to;

	/* keep payloads alive while delivering */
	memmove(&net->q[i], &net->q[i + 1], (net->nq - i - 1) * sizeof(h_msg));
	net->nq--;
	hm.m.entries = hm.m.n_entries > 0 ? hm.ents : NULL;
	if (to >= 1 && to <= (raft_id) net->n && net->nodes[to] != NULL &&
		!net->down[to] && !net->cut[hm.m.from][to])
		raft_receive(net->nodes[to], &hm.m, net->now);
	free_msg(&hm);
}

/* Deliver what is queued now, one hop, then process readies. */
void
h_deliver_once(h_net *net)
{
	size_t		count;

	h_flush(net);
	count = net->nq;
	for (size_t i = 0; i < count && net->nq > 0; i++)
		h_deliver_at(net, 0);
	h_flush(net);
}

/* Deliver until the network is quiet. */
void
h_deliver(h_net *net)
{
	for (int round = 0; round < 1000; round++)
	{
		h_flush(net);
		if (net->nq == 0)
			return;
		h_deliver_once(net);
	}
	fail_msg("network never went quiet");
}

/* Drop every queued message. */
void
h_clear(h_net *net)
{
	h_flush(net);
	while (net->nq > 0)
		remove_at(net, net->nq - 1);
}

/* Advance the clock and tick one or every live node. */
void
h_tick(h_net *net, raft_id id, raft_time dt)
{
	net->now += dt;
	for (int i = 1; i <= net->n; i++)
	{
		if (net->nodes[i] == NULL || net->down[i])
			continue;
		if (id == 0 || id == (raft_id) i)
			raft_tick(net->nodes[i], net->now);
	}
}

/* Tick everyone every 'step' ms for 'ms', delivering everything. */
void
h_run(h_net *net, raft_time ms, raft_time step)
{
	for (raft_time t = 0; t < ms; t += step)
	{
		h_tick(net, 0, step);
		h_deliver(net);
	}
}

/* Let node id win an election (nobody else is ticked meanwhile). */
void
h_elect(h_net *net, raft_id id)
{
	h_deliver(net);
	for (int attempt = 0; attempt < 10; attempt++)
	{
		h_tick(net, id, H_ET + H_SPREAD);
		h_deliver(net);
		if (raft_get_role(net->nodes[id]) == RAFT_LEADER)
			return;
	}
	fail_msg("node %u did not become leader", id);
}

/* Node id wins an election in one round trip (see harness.h). */
raft_node *
h_win(h_net *net, raft_id id)
{
	h_tick(net, id, H_ET + H_SPREAD);
	h_deliver_once(net);		/* vote requests */
	h_deliver_once(net);		/* answers */
	assert_int_equal(raft_get_role(h_node(net, id)), RAFT_LEADER);
	return h_node(net, id);
}

/* Win an election for node 1 without delivering its first APPENDs. */
void
h_elect_quietly(h_net *net)
{
	(void) h_win(net, 1);
	h_clear(net);
}

/* Cut every link to and from a node. */
void
h_isolate(h_net *net, raft_id id)
{
	for (int i = 0; i <= H_MAX; i++)
	{
		net->cut[id][i] = true;
		net->cut[i][id] = true;
	}
}

/* Restore every link. */
void
h_heal(h_net *net)
{
	memset(net->cut, 0, sizeof(net->cut));
}

/* Crash a node: its unprocessed output is lost. */
void
h_crash(h_net *net, raft_id id)
{
	raft_free(net->nodes[id]);
	net->nodes[id] = NULL;
	net->down[id] = true;
	for (size_t i = net->nq; i > 0; i--)
		if (net->q[i - 1].m.to == id)
			remove_at(net, i - 1);
}

/* Restart a crashed node from its disk. */
void
h_restart(h_net *net, raft_id id)
{
	if (net->nodes[id] != NULL)
		h_crash(net, id);
	create_node(net, id);
	net->applied[id] = raft_commit_index(net->nodes[id]);
}

/* Count queued messages matching (0 = any). */
size_t
h_count(h_net *net, int type, raft_id from, raft_id to)
{
	size_t		c = 0;

	h_flush(net);
	for (size_t i = 0; i < net->nq; i++)
	{
		const raft_message *m = &net->q[i].m;

		if ((type == 0 || m->type == type) && (from == 0 || m->from == from) &&
			(to == 0 || m->to == to))
			c++;
	}
	return c;
}

/* First queued message matching (0 = any), or NULL. */
const raft_message *
h_find(h_net *net, int type, raft_id from, raft_id to)
{
	h_flush(net);
	for (size_t i = 0; i < net->nq; i++)
	{
		const raft_message *m = &net->q[i].m;

		if ((type == 0 || m->type == type) && (from == 0 || m->from == from) &&
			(to == 0 || m->to == to))
			return m;
	}
	return NULL;
}

/* Leaders among live nodes (in 'term', or any term). */
int
h_leaders(h_net *net, raft_term term)
{
	int			c = 0;

	for (int i = 1; i <= net->n; i++)
		if (net->nodes[i] != NULL && !net->down[i] &&
			raft_get_role(net->nodes[i]) == RAFT_LEADER &&
			(term == 0 || raft_get_term(net->nodes[i]) == term))
			c++;
	return c;
}

/* The one live leader of the highest term, or 0. */
raft_id
h_leader(h_net *net)
{
	raft_id		best = 0;

	for (int i = 1; i <= net->n; i++)
		if (net->nodes[i] != NULL && !net->down[i] &&
			raft_get_role(net->nodes[i]) == RAFT_LEADER &&
			(best == 0 || raft_get_term(net->nodes[i]) >
			 raft_get_term(net->nodes[best])))
			best = (raft_id) i;
	return best;
}

/* A zeroed message. */
raft_message
h_msg_make(int type, raft_id from, raft_id to, raft_term term)
{
	raft_message m;

	memset(&m, 0, sizeof(m));
	m.type = (uint8_t) type;
	m.from = from;
	m.to = to;
	m.term = term;
	/* every real response carries its sender's election timeout */
	if (type == RAFT_MSG_APPEND_RESPONSE)
		m.timeout = H_ET;
	/* a hand-made APPEND ranks nobody: timeouts stay spread */
	if (type == RAFT_MSG_APPEND)
		m.rank = RAFT_RANK_UNKNOWN;
	return m;
}

/* A successful APPEND_RESPONSE acknowledging 'match', echoing 'echo'. */
raft_message
h_ack_make(raft_id from, raft_id to, raft_term term, raft_index match,
		   raft_time echo)
{
	raft_message m = h_msg_make(RAFT_MSG_APPEND_RESPONSE, from, to, term);

	m.success = true;
	m.match_index = match;
	m.echo = echo;
	return m;
}

/* n empty NORMAL entries of 'term' from index 'first' on. */
void
h_entries(raft_entry *ents, int n, raft_term term, raft_index first)
{
	memset(ents, 0, (size_t) n * sizeof(raft_entry));
	for (int i = 0; i < n; i++)
	{
		ents[i].term = term;
		ents[i].index = first + (raft_index) i;
		ents[i].type = RAFT_ENTRY_NORMAL;
	}
}

/* A vote request (VOTE or PREVOTE) naming the candidate's last entry. */
raft_message
h_vote_make(int type, raft_id from, raft_id to, raft_term term,
			raft_index last_index, raft_term last_term)
{
	raft_message m = h_msg_make(type, from, to, term);

	m.last_log_index = last_index;
	m.last_log_term = last_term;
	return m;
}

/* Run 1 ms at a time until a message is queued (see harness.h). */
raft_time
h_run_until_queued(h_net *net, int type, raft_id from, raft_id to,
				   raft_time max_ms)
{
	for (raft_time ms = 0; ms < max_ms; ms++)
	{
		if (h_count(net, type, from, to) > 0)
			return net->now;
		h_deliver(net);
		h_tick(net, 0, 1);
	}
	return 0;
}

/* Propose a short NORMAL entry. */
int
h_propose(h_net *net, raft_id id, const char *text, raft_index *index)
{
	return raft_propose(net->nodes[id], RAFT_ENTRY_NORMAL,
						(const uint8_t *) text, (uint32_t) strlen(text), index);
}

/* Whether two logs agree up to 'upto'. */
bool
h_logs_match(h_net *net, raft_id a, raft_id b, raft_index upto)
{
	for (raft_index i = 1; i <= upto; i++)
	{
		raft_entry	ea;
		raft_entry	eb;

		if (!raft_get_entry(net->nodes[a], i, &ea) ||
			!raft_get_entry(net->nodes[b], i, &eb))
			return false;
		if (ea.term != eb.term || ea.type != eb.type || ea.len != eb.len)
			return false;
		if (ea.len > 0 && memcmp(ea.data, eb.data, ea.len) != 0)
			return false;
	}
	return true;
}
