/*
 * sim_net.c
 *	  The simulated network: every message goes through the codec.
 *
 * The messages of one ready are grouped by destination into one envelope
 * each (as the worker batches them into one call per peer), encoded to bytes,
 * checked to decode back to the same messages, and then subjected to the
 * network's weather: partitions, loss, duplication, delay (hence reordering)
 * and, now and then, corruption, which the decoder must survive.
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define SIM_CLUSTER_NAME "sim"

/* Whether two positions are the same. */
static bool
pos_equal(raft_position a, raft_position b)
{
	return a.major == b.major && a.minor == b.minor && a.begin == b.begin &&
		a.parent == b.parent;
}

/* Whether two vote requests carry the same history steps. */
static bool
history_equal(const raft_message *a, const raft_message *b)
{
	if (a->n_history != b->n_history)
		return false;
	for (int k = 0; k < a->n_history; k++)
		if (a->history[k].tli != b->history[k].tli ||
			a->history[k].begin != b->history[k].begin ||
			a->history[k].parent != b->history[k].parent ||
			a->history[k].node != b->history[k].node)
			return false;
	return true;
}

/* Whether two decoded messages carry the same contents. */
static bool
msg_equal(const raft_message *a, const raft_message *b)
{
	if (a->type != b->type || a->from != b->from || a->to != b->to ||
		a->term != b->term)
		return false;
	switch (a->type)
	{
		case RAFT_MSG_PREVOTE:
		case RAFT_MSG_VOTE:
			return a->last_log_index == b->last_log_index &&
				a->last_log_term == b->last_log_term &&
				pos_equal(a->position, b->position) && history_equal(a, b) &&
				a->transfer == b->transfer;
		case RAFT_MSG_PREVOTE_RESPONSE:
		case RAFT_MSG_VOTE_RESPONSE:
			return a->granted == b->granted && a->refusal == b->refusal;
		case RAFT_MSG_APPEND:
			if (a->prev_log_index != b->prev_log_index ||
				a->prev_log_term != b->prev_log_term ||
				a->commit != b->commit || a->n_entries != b->n_entries ||
				a->echo != b->echo)
				return false;
			for (uint32_t k = 0; k < a->n_entries; k++)
			{
				const raft_entry *x = &a->entries[k];
				const raft_entry *y = &b->entries[k];

				if (x->term != y->term || x->index != y->index ||
					x->type != y->type || x->len != y->len ||
					(x->len > 0 && memcmp(x->data, y->data, x->len) != 0))
					return false;
			}
			return true;
		case RAFT_MSG_APPEND_RESPONSE:
			return a->echo == b->echo && a->success == b->success &&
				a->match_index == b->match_index &&
				a->reject_hint == b->reject_hint &&
				pos_equal(a->position, b->position) &&
				a->timeout == b->timeout && a->priority == b->priority;
		default:
			return true;
	}
}

/* Apply the weather to one packet: drop it, or schedule its arrival(s). */
static void
transmit(sim_cluster *c, sim_packet *p)
{
	raft_time	delay;
	int			copies = 1;

	c->stats.packets++;
	if (!c->link[p->from][p->to] || rng_chance(&c->rng, c->loss))
	{
		c->stats.dropped++;
		free(p);
		return;
	}
	if (rng_chance(&c->rng, c->dup))
	{
		copies = 2;
		c->stats.duplicated++;
	}
	for (int k = 0; k < copies; k++)
	{
		sim_packet *q = p;

		if (k > 0)
		{
			q = malloc(sizeof(sim_packet) + p->len);
			if (q == NULL)
				abort();
			memcpy(q, p, sizeof(sim_packet) + p->len);
		}
		delay = c->delay_min + rng_range(&c->rng, 0, c->delay_jitter + 1);
		if (rng_chance(&c->rng, c->long_delay))
			delay += rng_range(&c->rng, 0, 3 * c->cfg.et);
		sim_schedule(c, c->now + delay, EV_DELIVER, -1, 0, q);
	}
}

/* Make a damaged copy of a packet and send it instead of or beside it. */
static void
maybe_corrupt(sim_cluster *c, sim_packet *p)
{
	sim_packet *q;

	if (!rng_chance(&c->rng, c->corrupt))
		return;
	q = malloc(sizeof(sim_packet) + p->len);
	if (q == NULL)
		abort();
	memcpy(q, p, sizeof(sim_packet) + p->len);
	switch (rng_below(&c->rng, 3))
	{
		case 0:
			q->corrupt = CORRUPT_TRUNCATE;
			q->len = (size_t) rng_below(&c->rng, p->len);
			break;
		case 1:
			q->corrupt = CORRUPT_MAGIC;
			q->bytes[rng_below(&c->rng, 4)] ^= (uint8_t) (1 + rng_below(&c->rng, 255));
			break;
		default:
			q->corrupt = CORRUPT_RANDOM;
			for (int k = 0, n = 1 + (int) rng_below(&c->rng, 4); k < n; k++)
				q->bytes[rng_below(&c->rng, p->len)] ^=
					(uint8_t) (1 + rng_below(&c->rng, 255));
			break;
	}
	transmit(c, q);
}

/*
 * Send the messages of a ready, one envelope per destination, to at most
 * max_dest destinations (fewer when a crash interrupts the sending).
 */
void
net_send_ready(sim_cluster *c, sim_node *nd, const raft_ready *r, size_t max_dest)
{
	size_t		size[SIM_MAX_NODES];
	uint32_t	count[SIM_MAX_NODES];
	int			order[SIM_MAX_NODES];
	int			n_dest = 0;
	const char *why = NULL;
	size_t		hdr = raft_envelope_header_size(SIM_CLUSTER_NAME);

	memset(count, 0, sizeof(count));
	for (size_t k = 0; k < r->n_messages; k++)
	{
		const raft_message *m = &r->messages[k];
		int			to = (int) m->to - 1;

		if (m->from != nd->id || to < 0 || to >= c->cfg.n_slots || to == nd->slot)
		{
			sim_fail(c, "ready", "n%u: message %s from %u to %u is misaddressed",
					 nd->id, raft_msg_type_name(m->type), m->from, m->to);
			return;
		}
		inv_sent(c, nd, m);
		if (c->failed)
			return;
		if (count[to] == 0)
		{
			order[n_dest++] = to;
			size[to] = hdr;
		}
		count[to]++;
		size[to] += 4 + raft_message_encoded_size(m);
	}
	for (int d = 0; d < n_dest && (size_t) d < max_dest; d++)
	{
		int			to = order[d];
		sim_packet *p = malloc(sizeof(sim_packet) + size[to]);
		size_t		len = 0;
		raft_envelope env;
		size_t		off = 0;
		size_t		k = 0;

		if (p == NULL)
			abort();
		p->next = NULL;
		p->from = nd->slot;
		p->to = to;
		p->corrupt = CORRUPT_NONE;
		if (raft_envelope_encode_header(SIM_CLUSTER_NAME, nd->id, (raft_id) (to + 1),
										count[to], p->bytes, size[to], &len,
										&why) != RAFT_OK)
		{
			sim_fail(c, "codec", "envelope header encode failed: %s", why);
			free(p);
			return;
		}
		for (size_t i = 0; i < r->n_messages; i++)
		{
			if ((int) r->messages[i].to - 1 != to)
				continue;
			if (raft_envelope_append(&r->messages[i], p->bytes, size[to], &len,
									 &why) != RAFT_OK)
			{
				sim_fail(c, "codec", "message encode failed (%s): %s",
						 raft_msg_type_name(r->messages[i].type), why);
				free(p);
				return;
			}
		}
		if (len != size[to])
		{
			sim_fail(c, "codec", "envelope is %zu bytes, encoded_size said %zu",
					 len, size[to]);
			free(p);
			return;
		}
		p->len = len;

		/* round trip: what the peer decodes must be what we sent */
		if (raft_envelope_decode(p->bytes, len, &env, &why) != RAFT_OK)
		{
			sim_fail(c, "codec", "own envelope does not decode: %s", why);
			free(p);
			return;
		}
		for (size_t i = 0; i < r->n_messages; i++)
		{
			raft_message m;
			raft_entry	ents[RAFT_MAX_ENTRIES_PER_MSG];
			char		b1[SIM_LINE];

			if ((int) r->messages[i].to - 1 != to)
				continue;
			if (raft_envelope_next(&env, &off, &m, ents, &why) != RAFT_OK ||
				!msg_equal(&m, &r->messages[i]))
			{
				sim_fail(c, "codec", "message %zu (%s) does not round-trip: %s", k,
						 sim_msg_summary(&r->messages[i], b1, sizeof(b1)),
						 why ? why : "fields differ");
				free(p);
				return;
			}
			k++;
		}
		maybe_corrupt(c, p);
		transmit(c, p);
	}
}

/*
 * Decode a damaged packet: it must not crash the decoder, and the kinds of
 * damage that a length-prefixed, magic-stamped format must notice must be
 * rejected.  A damaged packet is never handed to the engine: without a
 * checksum a flipped bit in a term is indistinguishable from a real term.
 */
static void
deliver_corrupt(sim_cluster *c, sim_packet *p)
{
	raft_envelope env;
	const char *why = NULL;
	bool		ok = true;

	if (raft_envelope_decode(p->bytes, p->len, &env, &why) != RAFT_OK)
		ok = false;
	else
	{
		size_t		off = 0;
		raft_message m;
		raft_entry	ents[RAFT_MAX_ENTRIES_PER_MSG];
		int			rc;

		while ((rc = raft_envelope_next(&env, &off, &m, ents, &why)) == RAFT_OK)
			;
		if (rc != 1)
			ok = false;
	}
	if (!ok)
		c->stats.corrupt_rejected++;
	else if (p->corrupt == CORRUPT_RANDOM)
		c->stats.corrupt_undetected++;
	else
		sim_fail(c, "codec", "a %s envelope (%zu bytes) was accepted by the decoder",
				 p->corrupt == CORRUPT_TRUNCATE ? "truncated" : "bad-magic", p->len);
	TRACE(c, p->to, "corrupt packet from n%d %s", p->from + 1,
		  ok ? "decoded (dropped)" : "rejected");
	free(p);
}

/* A packet reaches its destination's host. */
void
net_deliver(sim_cluster *c, sim_packet *p)
{
	sim_node   *nd = &c->nodes[p->to];

	if (nd->state == NODE_DOWN || !c->link[p->from][p->to])
	{
		c->stats.dropped++;
		free(p);
		return;
	}
	if (p->corrupt != CORRUPT_NONE)
	{
		deliver_corrupt(c, p);
		return;
	}
	if (nd->state == NODE_PAUSED)
	{
		/* the kernel buffers it; the process reads it on resume */
		if (nd->pending_count >= 4096)
		{
			c->stats.dropped++;
			free(p);
			return;
		}
		p->next = NULL;
		if (nd->pending_tail)
			nd->pending_tail->next = p;
		else
			nd->pending_head = p;
		nd->pending_tail = p;
		nd->pending_count++;
		return;
	}
	net_deliver_now(c, nd, p);
}

/*
 * Hand the node a well-formed but impossible variant of a message it is about
 * to receive (entries out of sequence or from the future, terms going back,
 * a vote request claiming a log from the future, a misaddressed or
 * self-addressed message).  The engine must count it as invalid and drop it;
 * and since it is dropped the run's invariants must not notice anything.
 * A success response claiming more than the leader ever sent is injected
 * too: it may legitimately be ignored as stale instead of counted, so only
 * the invariants judge that one.
 */
static void
inject_impossible(sim_cluster *c, sim_node *nd, const raft_message *m)
{
	raft_message bad = *m;
	raft_entry	ents[RAFT_MAX_ENTRIES_PER_MSG];
	uint64_t	before = raft_get_stats(nd->raft)->msgs_dropped_invalid;
	bool		must_count = true;
	const char *what;
	char		b[SIM_LINE];

	if (m->n_entries > 0)
	{
		memcpy(ents, m->entries, m->n_entries * sizeof(raft_entry));
		bad.entries = ents;
	}
	switch (m->type == RAFT_MSG_APPEND ? rng_below(&c->rng, 4) : 4 + rng_below(&c->rng, 3))
	{
		case 0:
			if (m->n_entries == 0)
				return;
			what = "entry index out of sequence";
			ents[rng_below(&c->rng, m->n_entries)].index += 1 + rng_below(&c->rng, 3);
			break;
		case 1:
			if (m->n_entries == 0)
				return;
			what = "entry term above the message's";
			ents[rng_below(&c->rng, m->n_entries)].term = m->term + 1 + rng_below(&c->rng, 5);
			break;
		case 2:
			if (m->n_entries == 0 || m->prev_log_term == 0)
				return;
			what = "entry term below prev_log_term";
			ents[0].term = m->prev_log_term - 1;
			if (ents[0].term == 0)
				return;
			break;
		case 3:
			what = "prev_log_term above the message's term";
			bad.prev_log_term = m->term + 1 + rng_below(&c->rng, 5);
			break;
		case 4:
			if (m->type != RAFT_MSG_VOTE && m->type != RAFT_MSG_PREVOTE)
				return;
			what = "candidate's last log term above its term";
			bad.last_log_term = m->term + 1 + rng_below(&c->rng, 5);
			break;
		case 5:
			what = rng_chance(&c->rng, 0.5) ? "addressed to someone else" : "sent by ourselves";
			if (what[0] == 'a')
				bad.to = m->to % (raft_id) SIM_MAX_NODES + 1;
			else
				bad.from = m->to;
			if (bad.to == m->to && bad.from == m->from)
				return;
			break;
		default:
			if (m->type != RAFT_MSG_APPEND_RESPONSE || !m->success)
				return;
			what = "acknowledges more than was ever sent";
			must_count = false;

			/*
			 * Past the receiver's log for sure: a claim inside it is not
			 * impossible but a lie, which the leader must believe (a soak
			 * found one that froze a learner 1,400 entries behind).
			 */
			bad.match_index = raft_last_index(nd->raft) + 1 +
				rng_below(&c->rng, 1000);
			break;
	}
	if (c->trace != TRACE_OFF)
		sim_trace(c, nd->slot, "<- IMPOSSIBLE (%s) %s", what,
				  sim_msg_summary(&bad, b, sizeof(b)));
	raft_receive(nd->raft, &bad, sim_local_now(c, nd));
	c->stats.node_steps++;
	c->stats.impossible++;
	if (must_count && raft_get_stats(nd->raft)->msgs_dropped_invalid == before)
		sim_fail(c, "bad input", "n%u did not count an impossible message as "
				 "invalid (%s): %s", nd->id, what,
				 sim_msg_summary(&bad, b, sizeof(b)));
}

/* Decode a packet and hand its messages to the running node, then step it. */
void
net_deliver_now(sim_cluster *c, sim_node *nd, sim_packet *p)
{
	raft_envelope env;
	const char *why = NULL;
	size_t		off = 0;
	int			rc;

	if (raft_envelope_decode(p->bytes, p->len, &env, &why) != RAFT_OK)
	{
		sim_fail(c, "codec", "intact envelope rejected: %s", why);
		free(p);
		return;
	}
	if (env.to != nd->id || env.from != (raft_id) (p->from + 1) ||
		strcmp(env.cluster_name, SIM_CLUSTER_NAME) != 0)
	{
		sim_fail(c, "codec", "envelope header altered: from %u to %u cluster '%s'",
				 env.from, env.to, env.cluster_name);
		free(p);
		return;
	}
	for (;;)
	{
		raft_message m;
		raft_entry	ents[RAFT_MAX_ENTRIES_PER_MSG];

		rc = raft_envelope_next(&env, &off, &m, ents, &why);
		if (rc == 1)
			break;
		if (rc != RAFT_OK)
		{
			sim_fail(c, "codec", "intact message rejected: %s", why);
			break;
		}
		if (c->trace != TRACE_OFF)
		{
			char		b[SIM_LINE];

			sim_trace(c, nd->slot, "<- %s", sim_msg_summary(&m, b, sizeof(b)));
		}
		if (rng_chance(&c->rng, c->cfg.impossible))
		{
			inject_impossible(c, nd, &m);
			if (c->failed)
				break;
		}
		raft_receive(nd->raft, &m, sim_local_now(c, nd));
		c->stats.node_steps++;
	}
	/* the engine must have copied what it keeps: the buffer goes now */
	free(p);
	sim_process_ready(c, nd);
}
