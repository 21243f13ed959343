/*
 * raft_internal.h
 *	  Private declarations of the raft_ext engine: the node structure and the
 *	  helpers the engine's source files share.  Nothing outside src/raft/ and
 *	  the engine's unit tests includes this file.
 *
 * Layout of the engine:
 *	  raft_node.c		 options, creation, restore, observers, names
 *	  raft_ready.c		 the output batch: messages, has_ready/get_ready/advance
 *	  raft_log.c		 the in-memory log and the membership it implies
 *	  raft_receive.c	 message validation and term handling (the dispatcher)
 *	  raft_election.c	 timers, PreVote, elections, voting
 *	  raft_replication.c AppendEntries on both sides, commit, CheckQuorum, lease
 *	  raft_transfer.c	 leadership transfer (TimeoutNow)
 *	  raft_membership.c	 single-server membership changes
 *	  raft_bootstrap.c	 the bootstrap membership may not change across restarts
 *	  raft_history.c	 the timeline history in the log; positions judged
 *						 against it (votes, succession, transfers)
 *
 * The wire codec beside it (raft_wire.h, not this header; calls go one way,
 * envelope -> message -> change):
 *	  raft_envelope.c	 envelopes: cluster name, from, to, framed messages
 *	  raft_codec.c		 messages
 *	  raft_change_codec.c membership-change payloads (log entries)
 *	  raft_timeline_codec.c timeline-step payloads (log entries)
 *	  raft_wire.[ch]	 bounds-checked little-endian primitives, reasons
 */
#ifndef RAFT_INTERNAL_H
#define RAFT_INTERNAL_H

#include "raft.h"

/* What a leader tracks about one other member. */
typedef struct raft_progress
{
	raft_id		id;
	raft_index	match;			/* highest index known to be replicated */
	raft_index	next;			/* next index to send */
	bool		probing;		/* next is a guess: one message at a time */
	raft_time	last_contact;	/* last message from it in this term */
	raft_time	acked_echo;		/* newest send time it acknowledged, 0 none */
	raft_time	acked_timeout;	/* its election timeout, as that ack said */
	raft_position position;		/* as of its newest response in this term */
	bool		heard;			/* it responded in this term */
	uint8_t		priority;		/* as its newest response said */
	uint8_t		flags;			/* as its newest response said */
} raft_progress;

/*
 * A batch of outgoing messages.  Entries carried by the messages are copied
 * (descriptors only; payloads stay owned by the log) into 'ents', and each
 * message remembers its offset there, because the arena may move while the
 * batch is filled.  Pointers are fixed up when the batch is handed out.
 */
typedef struct raft_batch
{
	raft_message *msgs;
	size_t	   *ent_off;
	size_t		n_msgs;
	size_t		cap_msgs;
	raft_entry *ents;
	size_t		n_ents;
	size_t		cap_ents;
} raft_batch;

/* Votes received in the current (pre)election. */
typedef struct raft_tally
{
	int			n;
	raft_id		ids[RAFT_MAX_MEMBERS];
	bool		granted[RAFT_MAX_MEMBERS];
} raft_tally;

struct raft_node
{
	raft_options opts;
	raft_id		id;

	/* durable state */
	raft_term	term;
	raft_id		voted_for;

	/* volatile state */
	raft_role	role;
	raft_id		leader;
	raft_index	commit;
	raft_index	applied;		/* committed entries handed out and advanced */
	raft_time	now;			/* newest time seen */
	bool		started;		/* an input arrived: no more restore */
	raft_index	restored_commit;	/* commit from the hard state */

	/* the log: log[i] holds index i + 1; payloads are owned copies */
	raft_entry *log;
	size_t		log_len;
	size_t		log_cap;
	raft_index	stable;			/* last index the caller made durable */
	raft_index	truncate_from;	/* pending truncation, 0 none */

	/* membership */
	raft_membership bootstrap;
	raft_membership config;
	raft_index	last_change_index;	/* newest CHANGE entry in the log, 0 none */
	bool		voter_before_change;	/* were we a voter before that change */
	bool		membership_changed;

	/* timeline history: the TIMELINE entries of the log (raft_history.c) */
	raft_timeline history[RAFT_MAX_HISTORY];
	raft_index	history_index[RAFT_MAX_HISTORY];	/* each step's entry */
	int			n_history;
	raft_index	last_timeline_index;	/* newest TIMELINE entry, 0 none */

	/* timers */
	raft_time	election_deadline;	/* campaign when now reaches it */
	raft_time	last_leader_contact;	/* stickiness; 0 never */
	raft_time	sticky_until;	/* startup stickiness (raft_new) ends */
	uint8_t		rank;			/* from the leader's last APPEND, or
								 * RAFT_RANK_UNKNOWN */
	raft_time	heartbeat_due;	/* leader: next broadcast */
	raft_time	term_start;		/* leader: when it took office */
	uint64_t	rng;			/* splitmix64 state */

	/* elections */
	raft_tally	tally;
	raft_position position;
	uint8_t		flags;			/* raft_set_flags() */

	/* leader */
	raft_progress prs[RAFT_MAX_MEMBERS];
	int			n_prs;
	raft_id		transfer_target;
	raft_time	transfer_deadline;
	bool		timeout_now_sent;
	raft_time	transfer_hold_until;	/* no TIMEOUT_NOW before this */
	raft_time	lease_until;

	/* output bookkeeping */
	raft_batch	pending;		/* messages not yet handed out */
	raft_batch	out;			/* messages handed out, awaiting advance */
	bool		out_busy;		/* a ready is handed out */
	raft_entry *ready_entries;	/* copies handed out in ready.entries */
	size_t		cap_ready_entries;
	raft_entry *ready_committed;	/* copies handed out in ready.committed */
	size_t		cap_ready_committed;
	raft_index	ready_last;		/* last index handed out as to-persist */
	raft_index	ready_commit;	/* last index handed out as committed */
	raft_hard_state persisted;	/* hard state the caller has made durable */
	raft_hard_state handed;		/* hard state of the ready handed out */
	raft_role	rep_role;		/* last reported role, term, leader, lease */
	raft_term	rep_term;
	raft_id		rep_leader;
	raft_time	rep_lease;

	/* truncated payloads, freed once no handed-out pointer can see them */
	void	  **garbage;
	size_t		n_garbage;
	size_t		n_garbage_old;	/* the first n_garbage_old predate the ready */
	size_t		cap_garbage;

	raft_stats	stats;
};

/* raft_node.c */
extern void *raft__alloc(raft_node *n, size_t size);
extern void *raft__realloc(raft_node *n, void *ptr, size_t size);
extern void raft__free(raft_node *n, void *ptr);
extern int	raft__quorum(const raft_node *n);
extern int	raft__member_slot(const raft_membership *m, raft_id id);
extern bool raft__is_member(const raft_node *n, raft_id id);

/* raft_ready.c */
extern raft_message *raft__new_message(raft_node *n, raft_msg_type type,
									   raft_id to);
extern bool raft__attach_entries(raft_node *n, raft_message *msg,
								 raft_index first, uint32_t count);
extern void raft__batch_free(raft_node *n, raft_batch *b);
extern void raft__discard_payload(raft_node *n, void *payload);

/* raft_log.c */
extern raft_index raft__last_index(const raft_node *n);
extern raft_term raft__term_at(const raft_node *n, raft_index index);
extern const raft_entry *raft__entry_at(const raft_node *n, raft_index index);
extern int	raft__log_append(raft_node *n, raft_term term, uint8_t type,
							 const uint8_t *data, uint32_t len);
extern void raft__log_truncate(raft_node *n, raft_index from);
extern void raft__log_free(raft_node *n);
extern void raft__membership_recompute(raft_node *n);
extern bool raft__membership_apply(raft_membership *m, const raft_change *change);
extern bool raft__entry_valid(const raft_entry *e);

/* raft_election.c */
extern void raft__reset_election_timer(raft_node *n);
extern void raft__become_follower(raft_node *n, raft_term term, raft_id leader);
extern void raft__become_leader(raft_node *n);
extern void raft__campaign(raft_node *n, bool transfer);
extern void raft__start_prevote(raft_node *n);
extern void raft__election_tick(raft_node *n);
extern bool raft__in_lease(const raft_node *n);
extern raft_time raft__startup_window(const raft_options *o);
extern uint8_t raft__own_priority(const raft_node *n);
extern void raft__handle_vote_request(raft_node *n, const raft_message *m);
extern void raft__handle_vote_response(raft_node *n, const raft_message *m);
extern bool raft__can_campaign(const raft_node *n);

/* raft_replication.c */
extern void raft__send_append(raft_node *n, raft_progress *pr, bool resync);
extern void raft__broadcast_append(raft_node *n, bool heartbeat);
extern void raft__leader_tick(raft_node *n);
extern void raft__handle_append(raft_node *n, const raft_message *m);
extern void raft__handle_append_response(raft_node *n, const raft_message *m);
extern void raft__maybe_commit(raft_node *n);
extern void raft__update_lease(raft_node *n);
extern raft_progress *raft__progress(raft_node *n, raft_id id);
extern void raft__reset_progress(raft_node *n);
extern void raft__sync_progress(raft_node *n);
extern void raft__set_commit(raft_node *n, raft_index commit);

/* raft_transfer.c */
extern void raft__transfer_tick(raft_node *n);
extern void raft__transfer_check(raft_node *n, raft_progress *pr);
extern void raft__handle_timeout_now(raft_node *n, const raft_message *m);
extern void raft__transfer_cancel(raft_node *n);

/* raft_history.c */
extern void raft__history_apply_entry(raft_node *n, const raft_entry *e);
extern void raft__history_recompute(raft_node *n);
extern void raft__history_tail(const raft_node *n, raft_message *m);
extern bool raft__position_refused(const raft_node *n, raft_position mine,
								   raft_position cand,
								   const raft_timeline *h, int nh);
extern int	raft__position_order(const raft_node *n, raft_position a,
								 raft_position b);

/* raft_membership.c */
extern void raft__membership_committed(raft_node *n);
extern void raft__maybe_promote(raft_node *n);

#endif							/* RAFT_INTERNAL_H */
