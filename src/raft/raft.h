/*
 * raft.h
 *	  The raft_ext consensus engine: the one public header.
 *
 * The engine is a deterministic state machine.  It performs no I/O, reads no
 * clock, starts no thread and keeps no global mutable state.  Everything it
 * needs comes in as arguments; everything it decides comes out as a batch
 * ("ready") that the caller carries out.  This is what lets one process run
 * many nodes under a simulated clock and network (test/raft/) and what lets
 * the PostgreSQL background worker drive the very same code.
 *
 * Driving a node
 * --------------
 *	  raft_node *n = raft_new(&options, &hard_state, &bootstrap, now);
 *	  for each persisted entry, in index order: raft_restore_entry(n, &e);
 *	  loop:
 *		  raft_tick(n, now);					  time passed
 *		  raft_receive(n, &msg, now);			  a message from a peer
 *		  raft_propose(n, ...), raft_propose_change(n, ...),
 *		  raft_transfer_leadership(n, target, now);
 *		  if (raft_has_ready(n))
 *		  {
 *			  raft_ready r;
 *			  raft_get_ready(n, &r);
 *			  1. persist r.hard_state (if r.hard_state_changed),
 *				 truncate the log from r.truncate_from (if nonzero), append
 *				 r.entries -- and fsync all of it;
 *			  2. only then send r.messages;
 *			  3. apply r.committed;
 *			  raft_advance(n, now);
 *		  }
 *
 * THE CONTRACT: the caller makes the batch's hard state and entries durable
 * (fsync) BEFORE it sends any of the batch's messages.  A vote or an
 * acknowledgement that leaves the node before the state it depends on is on
 * disk can be forgotten by a crash, and a node that forgets a vote can vote
 * twice in one term.  raft_advance() tells the engine that the batch is
 * durable (a leader only counts its own log towards commitment after that).
 *
 * Pointers inside a raft_ready (messages, entries, committed entries) point
 * into the node's memory and stay valid until the next raft_advance() or
 * raft_free() on that node.
 *
 * Time is a monotonic count of milliseconds supplied by the caller; it never
 * goes backwards.  Randomness comes from a generator seeded by options.seed,
 * so a run is reproducible from its seed.
 *
 * Bad input never aborts: a malformed or impossible message is dropped and
 * counted in raft_stats.  Memory is obtained only through the allocator given
 * in the options; an allocation failure is reported as RAFT_ENOMEM.
 */
#ifndef RAFT_H
#define RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest configuration (voters and non-voting members together). */
#define RAFT_MAX_MEMBERS		16
/* Longest member address (opaque to the engine; a libpq conninfo for us). */
#define RAFT_MAX_ADDRESS		1024
/* Largest opaque payload of one log entry. */
#define RAFT_MAX_ENTRY_DATA		(64 * 1024)
/* Most entries carried by one AppendEntries message. */
#define RAFT_MAX_ENTRIES_PER_MSG	64
/*
 * Most payload bytes one AppendEntries message carries (a message always
 * carries at least one entry when it has any to send).  Keeps every encoded
 * message well inside a receiver's queue (1 MB in the extension).
 */
#define RAFT_MAX_APPEND_BYTES	(256 * 1024)
/* Longest cluster name carried in an envelope. */
#define RAFT_MAX_CLUSTER_NAME	63

typedef uint64_t raft_term;
typedef uint64_t raft_index;
typedef uint32_t raft_id;		/* node id; 0 means "nobody" */
typedef int64_t raft_time;		/* monotonic milliseconds */

#define RAFT_NOBODY ((raft_id) 0)

/* An APPEND's rank when the leader ranks nobody (see raft_message.rank). */
#define RAFT_RANK_UNKNOWN		255
/* Largest failover priority a node reports (raft_options.priority). */
#define RAFT_MAX_PRIORITY		100

/* Result codes.  Zero is success, everything else is negative. */
typedef enum raft_result
{
	RAFT_OK = 0,
	RAFT_ENOMEM = -1,			/* the allocator failed */
	RAFT_EINVAL = -2,			/* bad argument (message says which) */
	RAFT_ENOTLEADER = -3,		/* only a leader can do that */
	RAFT_EBUSY = -4,			/* a membership change or transfer is under way */
	RAFT_EUNKNOWN = -5,			/* no such member */
	RAFT_ETOOBIG = -6,			/* payload larger than RAFT_MAX_ENTRY_DATA */
	RAFT_ECORRUPT = -7,			/* restored state is inconsistent */
	RAFT_EUNREACHABLE = -8		/* transfer target silent for an election timeout */
} raft_result;

/* Human-readable text for a raft_result. */
extern const char *raft_strerror(int rc);

typedef enum raft_role
{
	RAFT_FOLLOWER = 0,
	RAFT_PRECANDIDATE,
	RAFT_CANDIDATE,
	RAFT_LEADER
} raft_role;

/* "follower", "precandidate", "candidate", "leader" */
extern const char *raft_role_name(raft_role role);

/*
 * A node's WAL position, which vote requests and append responses carry:
 * for the extension, its timeline, the LSN it has reached on it, where that
 * timeline begins (its switch point from 'parent') and the timeline it
 * branched from.  {0, 0, ...} means "unknown" and disables the check on
 * either side.  Positions are not compared by timeline number: a timeline
 * N + 1 contains timeline N only up to N + 1's switch point.  They are
 * judged against the timeline history that the log carries
 * (RAFT_ENTRY_TIMELINE, raft_history.c): a position on the history is as far
 * along as its LSN; one that left it (a fork) holds only the part of the
 * history before the point where it left.  A leader also waits for a
 * transfer target's position before sending it TIMEOUT_NOW (see
 * raft_transfer_leadership).
 */
typedef struct raft_position
{
	uint64_t	major;			/* timeline */
	uint64_t	minor;			/* LSN reached on it */
	uint64_t	begin;			/* LSN where 'major' begins; 0 for a first
								 * timeline */
	uint64_t	parent;			/* timeline 'major' branched from; 0 none */
	uint64_t	parent_begin;	/* LSN where 'parent' begins (0: a first
								 * timeline, or 'parent' is 0) */
} raft_position;

/*
 * How far (in "minor" units) a candidate's position may trail the voter's
 * before the voter refuses it: 0 when "minor" is equal or ahead only.
 * RAFT_POSITION_ANY turns the position check off.  A candidate whose
 * position left the timeline history is refused, whatever the tolerance, by
 * a voter on the history that holds at least as much of it.
 */
#define RAFT_POSITION_ANY UINT64_MAX

/*
 * One step of the timeline history, the payload of a RAFT_ENTRY_TIMELINE
 * entry: node 'node', leading in the entry's term, promoted to timeline
 * 'tli', which begins at LSN 'begin' on timeline 'parent'.  A step whose
 * parent is an earlier step of the history cuts the history there: WAL
 * that the parent wrote past 'begin' is off the history from then on.
 */
typedef struct raft_timeline
{
	uint64_t	tli;			/* nonzero */
	uint64_t	begin;
	uint64_t	parent;			/* 0: a first timeline (or its parent is
								 * unknown) */
	raft_id		node;			/* who promoted (informational) */
	/* informational, kept in the log only (vote requests carry zeros): */
	int64_t		time;			/* the proposer's wall clock, ms since the
								 * Unix epoch; 0 unknown */
	uint8_t		reason;			/* the caller's code for why (failover,
								 * switchover, first primary ...) */
} raft_timeline;

/* Steps a node keeps (the newest); a vote request carries the newest few. */
#define RAFT_MAX_HISTORY 32
#define RAFT_HISTORY_TAIL 8

/* Where a position stands against a timeline history. */
typedef enum raft_standing
{
	RAFT_STANDING_UNKNOWN = 0,	/* no position, no history, or no relation
								 * to it that can be told */
	RAFT_STANDING_ON_HISTORY = 1,	/* all of its WAL is the history's */
	RAFT_STANDING_FORKED = 2	/* its WAL left the history */
} raft_standing;

/* "unknown", "on history", "forked" */
extern const char *raft_standing_name(raft_standing standing);

/* Durable per-node state: must be fsynced before messages are sent. */
typedef struct raft_hard_state
{
	raft_term	term;
	raft_id		voted_for;		/* in 'term'; RAFT_NOBODY if none */
	raft_index	commit;			/* may be persisted lazily: losing it is safe */
} raft_hard_state;

typedef enum raft_entry_type
{
	RAFT_ENTRY_NOOP = 1,		/* opens every leader's term */
	RAFT_ENTRY_NORMAL = 2,		/* opaque application payload */
	RAFT_ENTRY_CHANGE = 3,		/* membership change, see raft_change */
	RAFT_ENTRY_TIMELINE = 4		/* timeline history step, see raft_timeline */
} raft_entry_type;

typedef struct raft_entry
{
	raft_term	term;
	raft_index	index;
	uint8_t		type;			/* raft_entry_type */
	uint32_t	len;
	const uint8_t *data;		/* len bytes; NULL when len == 0 */
} raft_entry;

typedef struct raft_member
{
	raft_id		id;
	bool		voter;			/* false: a non-voting member (learner) */
	bool		staged;			/* a learner to be promoted once caught up
								 * (RAFT_CHANGE_ADD_STAGED); never a voter */
	char		address[RAFT_MAX_ADDRESS];	/* NUL-terminated, opaque */
} raft_member;

typedef struct raft_membership
{
	int			count;
	raft_member members[RAFT_MAX_MEMBERS];
} raft_membership;

/*
 * Single-server membership change, carried in the log as a RAFT_ENTRY_CHANGE
 * entry.  A change takes effect on each node as soon as the entry is in its
 * log (and is undone if the entry is truncated away).  A leader accepts a new
 * change only once the previous one is committed, and only once an entry of
 * its own term (its opening NOOP) is committed: a change proposed before
 * that can commit under a configuration that a rival's majority never saw
 * (Ongaro, raft-dev 2015), and RAFT_EBUSY is returned until then.
 *
 * RAFT_CHANGE_ADD_STAGED adds a learner marked "staged": the leader of the
 * day proposes RAFT_CHANGE_PROMOTE for it by itself once its match index has
 * reached the leader's commit index and it answered within the election
 * timeout.  The mark is in the log, so any later leader carries on.  Adding
 * a voter that is down at once would instead count it in the quorum at once.
 */
typedef enum raft_change_op
{
	RAFT_CHANGE_ADD_VOTER = 1,
	RAFT_CHANGE_ADD_LEARNER = 2,
	RAFT_CHANGE_PROMOTE = 3,	/* learner -> voter */
	RAFT_CHANGE_REMOVE = 4,
	RAFT_CHANGE_ADD_STAGED = 5	/* learner, promoted once caught up */
} raft_change_op;

typedef struct raft_change
{
	uint8_t		op;				/* raft_change_op */
	raft_id		id;
	char		address[RAFT_MAX_ADDRESS];	/* for the ADD ops */
} raft_change;

typedef enum raft_msg_type
{
	RAFT_MSG_PREVOTE = 1,
	RAFT_MSG_PREVOTE_RESPONSE = 2,
	RAFT_MSG_VOTE = 3,
	RAFT_MSG_VOTE_RESPONSE = 4,
	RAFT_MSG_APPEND = 5,		/* AppendEntries, also the heartbeat */
	RAFT_MSG_APPEND_RESPONSE = 6,
	RAFT_MSG_TIMEOUT_NOW = 7	/* leadership transfer: campaign at once */
} raft_msg_type;

#define RAFT_MSG_TYPE_MAX RAFT_MSG_TIMEOUT_NOW

/* "prevote", "vote", "append", ... (for traces and logs) */
extern const char *raft_msg_type_name(int type);

/* Why a vote was refused (carried in the response, for diagnostics). */
typedef enum raft_vote_refusal
{
	RAFT_VOTE_GRANTED = 0,
	RAFT_VOTE_STALE_TERM = 1,
	RAFT_VOTE_ALREADY_VOTED = 2,
	RAFT_VOTE_LOG_BEHIND = 3,	/* Raft's log restriction */
	RAFT_VOTE_LEADER_ALIVE = 4, /* stickiness: heard a leader recently */
	RAFT_VOTE_POSITION_BEHIND = 5,	/* candidate's position too far behind */
	RAFT_VOTE_NOT_MEMBER = 6	/* candidate is not a voter in my config */
} raft_vote_refusal;

/*
 * One Raft message.  Only the fields of its type are meaningful; the others
 * are zero.
 */
typedef struct raft_message
{
	uint8_t		type;			/* raft_msg_type */
	raft_id		from;
	raft_id		to;
	raft_term	term;			/* sender's term (PREVOTE: the term it would
								 * campaign in) */

	/* PREVOTE, VOTE */
	raft_index	last_log_index;
	raft_term	last_log_term;
	/* PREVOTE, VOTE, APPEND_RESPONSE: the sender's raft_set_position() */
	raft_position position;
	/*
	 * PREVOTE, VOTE: the newest steps of the candidate's timeline history
	 * (oldest first), against which voters judge both positions.
	 */
	uint8_t		n_history;		/* <= RAFT_HISTORY_TAIL */
	raft_timeline history[RAFT_HISTORY_TAIL];
	/* PREVOTE, VOTE */
	bool		transfer;		/* campaign ordered by TIMEOUT_NOW: overrides
								 * stickiness */

	/* PREVOTE_RESPONSE, VOTE_RESPONSE */
	bool		granted;
	uint8_t		refusal;		/* raft_vote_refusal */

	/* APPEND */
	raft_index	prev_log_index;
	raft_term	prev_log_term;
	raft_index	commit;
	/*
	 * APPEND: the recipient's place in the leader's order of succession,
	 * 0 first (see raft_options.rank_step), or RAFT_RANK_UNKNOWN.
	 */
	uint8_t		rank;
	uint32_t	n_entries;		/* <= RAFT_MAX_ENTRIES_PER_MSG */
	const raft_entry *entries;

	/*
	 * APPEND and APPEND_RESPONSE: the leader's send time, echoed back
	 * unchanged by the follower.  The leader uses the echo to know the send
	 * time of the newest heartbeat round a majority acknowledged (its lease).
	 */
	raft_time	echo;

	/* APPEND_RESPONSE */
	bool		success;
	raft_index	match_index;	/* success: last index known to match */
	raft_index	reject_hint;	/* failure: follower's last index, a hint */

	/*
	 * APPEND_RESPONSE: the sender's own election timeout (ms, > 0), for
	 * which it refuses votes after hearing the leader.  Nodes may run with
	 * different timings (during a rolling change of settings), so the
	 * leader sizes its lease with each acknowledging voter's own value.
	 */
	raft_time	timeout;
	/*
	 * APPEND_RESPONSE: the sender's raft_options.priority, 0 when it never
	 * campaigns; <= RAFT_MAX_PRIORITY.  The leader ranks with it.
	 */
	uint8_t		priority;
	/* APPEND_RESPONSE: the sender's raft_set_flags() bits, opaque here */
	uint8_t		flags;
} raft_message;

typedef struct raft_options
{
	raft_id		id;				/* this node, nonzero */
	raft_time	heartbeat_interval; /* ms, > 0 */
	raft_time	election_timeout;	/* ET, ms, > 2 * heartbeat_interval */
	raft_time	election_spread;	/* timeouts drawn from [ET, ET + spread) */
	raft_time	lease_drift_margin; /* ms subtracted from the lease, < ET */
	uint64_t	seed;			/* for the randomized timeouts */
	bool		prevote;		/* run PreVote before every election */
	bool		check_quorum;	/* leader steps down without a live majority;
								 * also enables stickiness */
	bool		never_campaign; /* votes, never stands (failover_priority 0) */
	uint64_t	max_position_lag;	/* see RAFT_POSITION_ANY */

	/*
	 * ms, >= 0: after a leadership transfer drops the lease, TIMEOUT_NOW
	 * waits this long (but never past the dropped lease's end).  A commit
	 * that the caller's fence let through just before the drop may still
	 * be completing for that long, and the target, whose campaign skips
	 * stickiness, could otherwise lead within a round trip.  The extension
	 * sets it to raft_ext.fencing_headroom.
	 */
	raft_time	transfer_hold;

	/*
	 * ms, >= 0: how long a freshly created node refuses votes and stays
	 * from campaigning (see raft_new); 0 or anything below
	 * election_timeout means election_timeout.  A node whose election
	 * timeout shrank across a restart sets it to the old value: the
	 * acknowledgements it sent before the restart promised stickiness for
	 * that long, and a leader's lease may rest on the promise.  The
	 * extension persists the timeout it promised and sets this to it.
	 */
	raft_time	startup_stickiness;

	/*
	 * Rank-ordered elections.  The leader orders its followers, in every
	 * APPEND, as successors: voters that answered within ET and may stand
	 * (priority > 0) first, then by the WAL position they last reported
	 * (most advanced first), then by priority (highest first), then by node
	 * id; the others last.  A follower that knows its rank r draws its
	 * election timeout from [ET + r * rank_step, ET + r * rank_step +
	 * rank_jitter) instead of [ET, ET + spread), so the most caught-up
	 * eligible follower stands first and alone; one that knows no rank
	 * (never heard a leader) keeps the spread.  Ranking changes only when
	 * a node stands: PreVote, stickiness and the position refusal apply
	 * as ever.  rank_step 0, or prevote off, turns ranking off (every
	 * timeout is spread): without PreVote a node that cannot win would
	 * raise the term at each of its timeouts while ranked followers wait.
	 */
	raft_time	rank_step;		/* ms, >= 0 */
	raft_time	rank_jitter;	/* ms, >= 0 */
	uint8_t		priority;		/* 1..RAFT_MAX_PRIORITY, reported to the
								 * leader; never_campaign reports 0 */

	/* Allocator; NULL members mean malloc/realloc/free. */
	void	   *(*alloc) (void *ctx, size_t size);
	void	   *(*realloc) (void *ctx, void *ptr, size_t size);
	void		(*free) (void *ctx, void *ptr);
	void	   *alloc_ctx;
} raft_options;

/*
 * Fill in the defaults: heartbeat 100, ET 1000, spread 500, margin 100,
 * PreVote and CheckQuorum on, no position check, no transfer hold, rank
 * step heartbeat / 2 and jitter heartbeat / 10, priority 1.
 */
extern void raft_options_init(raft_options *options, raft_id id);

/* Check options; on failure return RAFT_EINVAL and point *why at a reason. */
extern int	raft_options_validate(const raft_options *options, const char **why);

typedef struct raft_node raft_node;

/*
 * Create a node from its persisted hard state and the bootstrap membership
 * (used until the log holds a membership change).  Returns NULL on bad
 * options or allocation failure.  A node starts as a follower and, as though
 * it had just heard from a leader, refuses votes and does not campaign for
 * max(election_timeout, startup_stickiness): a node that restarts quickly
 * cannot help elect a rival inside the lease of a leader it was following,
 * even when it comes back with a shorter timeout than it promised.
 */
extern raft_node *raft_new(const raft_options *options,
						   const raft_hard_state *hard_state,
						   const raft_membership *bootstrap,
						   raft_time now);
extern void raft_free(raft_node *node);

/*
 * Load one persisted entry at startup, in index order starting at 1, before
 * any other call.  RAFT_ECORRUPT if the index is out of sequence or the term
 * goes backwards.
 */
extern int	raft_restore_entry(raft_node *node, const raft_entry *entry);

/* Inputs */
extern void raft_tick(raft_node *node, raft_time now);
extern void raft_receive(raft_node *node, const raft_message *msg, raft_time now);
extern void raft_set_position(raft_node *node, raft_position position);

/*
 * Bits this node reports to its leader in every APPEND_RESPONSE, opaque to
 * the engine (raft_get_progress shows them).  The extension says there
 * whether the node promotes its server when it leads.
 */
extern void raft_set_flags(raft_node *node, uint8_t flags);
/* Change options.transfer_hold (a reload of the fence's headroom); >= 0. */
extern void raft_set_transfer_hold(raft_node *node, raft_time hold);

/* Leader only: append an entry; *index receives its log index. */
extern int	raft_propose(raft_node *node, raft_entry_type type,
						 const uint8_t *data, uint32_t len, raft_index *index);
extern int	raft_propose_change(raft_node *node, const raft_change *change,
								raft_index *index);
/*
 * Leader only: append a timeline history step (the caller's primary now
 * writes on 'step->tli').  RAFT_EINVAL for a zero timeline.  Nothing is
 * appended (RAFT_OK, *index 0) when the step is already the history's
 * newest.
 */
extern int	raft_propose_timeline(raft_node *node, const raft_timeline *step,
								  raft_index *index);

/*
 * Leader only: hand leadership to 'target' (a voter).  The target is brought
 * up to date first, then sent TIMEOUT_NOW; the leader gives up its lease and
 * refuses proposals meanwhile.  "Up to date" means both that the target
 * holds the leader's whole log and that the position it last reported (in
 * an APPEND_RESPONSE) is not behind the leader's own position by more than
 * max_position_lag -- the rule voters apply, so the leader would otherwise
 * refuse its own successor.  With positions {0, 0} on either side only the
 * log counts.  TIMEOUT_NOW also waits for options.transfer_hold after the
 * lease was dropped (at most until the dropped lease's end): commits the
 * caller's fence let through under that lease may still be completing.
 * Unless TIMEOUT_NOW can go at once, the target is sent an APPEND at once
 * and the check is made again on each of its responses and ticks.
 * Abandoned after the hold plus one election timeout
 * (raft_stats.transfers_abandoned); if TIMEOUT_NOW was never sent, the
 * leader carries on leading and regains its lease.
 * RAFT_EUNREACHABLE, with nothing changed, if the target has not answered
 * within the last election timeout: nobody would be there to campaign, and
 * the leader would give up its lease (and possibly its term) for nothing.
 */
extern int	raft_transfer_leadership(raft_node *node, raft_id target, raft_time now);

/* Output */
typedef struct raft_ready
{
	bool		hard_state_changed;
	raft_hard_state hard_state;

	raft_index	truncate_from;	/* nonzero: drop entries with index >= this */
	size_t		n_entries;		/* then append these, in order */
	const raft_entry *entries;

	size_t		n_messages;		/* send these after the above is durable */
	const raft_message *messages;

	size_t		n_committed;	/* newly committed, in order: apply them */
	const raft_entry *committed;

	bool		role_changed;	/* role, term or leader changed */
	raft_role	role;
	raft_term	term;
	raft_id		leader;

	bool		membership_changed;
	raft_time	lease_until;	/* leader's lease horizon; 0 = no lease */
} raft_ready;

extern bool raft_has_ready(const raft_node *node);
extern void raft_get_ready(raft_node *node, raft_ready *ready);
extern void raft_advance(raft_node *node, raft_time now);

/* Observers */
extern raft_id raft_self(const raft_node *node);
extern raft_role raft_get_role(const raft_node *node);
extern raft_term raft_get_term(const raft_node *node);
extern raft_id raft_get_vote(const raft_node *node);
extern raft_id raft_get_leader(const raft_node *node);
extern raft_index raft_commit_index(const raft_node *node);
extern raft_index raft_last_index(const raft_node *node);
extern raft_term raft_last_term(const raft_node *node);
/* Entry at 'index' into *entry; false if there is none. */
extern bool raft_get_entry(const raft_node *node, raft_index index, raft_entry *entry);
extern const raft_membership *raft_get_membership(const raft_node *node);
/* Whether 'id' is a voter in the node's current membership. */
extern bool raft_is_voter(const raft_node *node, raft_id id);
/* Lease horizon if this node is a leader holding a lease, else 0. */
extern raft_time raft_lease_until(const raft_node *node);
/* Whether this node holds an unexpired lease at 'now'. */
extern bool raft_has_lease(const raft_node *node, raft_time now);
/* Last time this node heard from a leader of its term (0 = never). */
extern raft_time raft_last_leader_contact(const raft_node *node);
/*
 * Non-leader: the time at which its election timer fires; raft_tick does
 * nothing for it before then, so a caller may sleep until then (messages
 * aside).  Leader: 0 (it ticks at the caller's usual rate).
 */
extern raft_time raft_election_deadline(const raft_node *node);
/*
 * The timeline history as this node's log has it (committed steps and the
 * tail its log would commit if it led), oldest first; *count receives the
 * number of steps.  The log index of each step in indexes[] if not NULL.
 */
extern const raft_timeline *raft_get_history(const raft_node *node, int *count,
											 const raft_index **indexes);
/* Where 'position' stands against this node's history; *valid (if not
 * NULL) receives how much of the history it holds (an LSN). */
extern raft_standing raft_position_standing(const raft_node *node,
											raft_position position,
											uint64_t *valid);
/*
 * Whether the history's newest step is (tli, begin), recorded by this node,
 * and committed: this node's primary on that timeline may take writes.
 * Always true with max_position_lag RAFT_POSITION_ANY (positions unrelated,
 * as between independent instances).  A
 * primary on a step another node recorded has the same timeline id and
 * beginning as that node's but not its WAL (it promoted from the same
 * point without seeing the step): it never may.
 */
extern bool raft_timeline_committed(const raft_node *node, uint64_t tli,
									uint64_t begin);

/* Leadership transfer target under way, or RAFT_NOBODY. */
extern raft_id raft_transfer_target(const raft_node *node);

/* What a leader knows of one peer (for the peers view). */
typedef struct raft_peer_progress
{
	raft_index	match_index;
	raft_index	next_index;
	raft_time	last_contact;	/* its last response; until one comes, when
								 * this leader took office */
	bool		heard;			/* a response came in this term of office:
								 * position and flags are its own */
	raft_position position;		/* as its last response reported it ({0, 0}
								 * none yet); the leader's own for itself */
	uint8_t		flags;			/* raft_set_flags() bits as it reported them
								 * (0 none yet); the leader's own for itself */
} raft_peer_progress;

/* Leader only: progress of peer 'id'; false if not leader or unknown id. */
extern bool raft_get_progress(const raft_node *node, raft_id id,
							  raft_peer_progress *progress);

typedef struct raft_stats
{
	uint64_t	msgs_received;
	uint64_t	msgs_dropped_stale;		/* lower term: answered or ignored */
	uint64_t	msgs_dropped_invalid;	/* impossible contents */
	uint64_t	msgs_dropped_unknown;	/* sender not a member */
	uint64_t	elections_started;
	uint64_t	prevotes_started;
	uint64_t	leader_stepdowns;		/* CheckQuorum, removal, higher term */
	uint64_t	transfers_abandoned;
	uint64_t	promotions;				/* staged learners promoted */
} raft_stats;

extern const raft_stats *raft_get_stats(const raft_node *node);

/*
 * The bootstrap rule (raft_bootstrap.c).  The caller persists the bootstrap
 * membership a node first starts with and, at every later start, passes the
 * persisted one and the one its configuration names now.  They may differ
 * only in members' addresses: RAFT_OK, and *effective receives the persisted
 * membership with the configured addresses, to hand to raft_new().  Any other
 * difference (a member added, removed or with another voting right) is
 * RAFT_EINVAL, with *culprit naming the member and *why a static reason: the
 * node must not start, since the same log would give it another
 * configuration than its peers'.
 */
extern int	raft_bootstrap_check(const raft_membership *persisted,
								 const raft_membership *configured,
								 raft_membership *effective, raft_id *culprit,
								 const char **why);

/* Position comparison used by voters: negative, zero or positive. */
extern int	raft_position_compare(raft_position a, raft_position b);

/*
 * Message encoding (raft_envelope.c, raft_codec.c, raft_change_codec.c)
 * ----------------------------------------------------------------------
 * The wire format is versioned and length-prefixed; every integer is
 * little-endian; every field is bounds-checked on decode.  Decoding never
 * reads outside [buf, buf + len) and never allocates: decoded entries point
 * into the input buffer.  On failure the functions return RAFT_EINVAL and
 * point *why at a static, human-readable reason.
 *
 * An envelope carries a batch of messages from one node to another:
 *	  magic "RAFT", version, cluster name, from, to, count,
 *	  then count times (u32 length, message bytes).
 */
#define RAFT_WIRE_VERSION 4

/*
 * Version byte of a membership-change payload.  These sit in the durable
 * log, so they keep their own version: a wire-format change must not make
 * old logs unreadable.
 */
#define RAFT_CHANGE_VERSION 1

/* Bytes needed to encode 'msg'. */
extern size_t raft_message_encoded_size(const raft_message *msg);
/* Encode into buf (capacity cap); *len receives the bytes written. */
extern int	raft_message_encode(const raft_message *msg, uint8_t *buf, size_t cap,
								size_t *len, const char **why);
/*
 * Decode one message.  'entries' is caller storage for up to
 * RAFT_MAX_ENTRIES_PER_MSG entries; msg->entries points there.
 */
extern int	raft_message_decode(const uint8_t *buf, size_t len, raft_message *msg,
								raft_entry *entries, const char **why);

/* Encode a membership change as an entry payload (buf >= sizeof change). */
extern int	raft_change_encode(const raft_change *change, uint8_t *buf, size_t cap,
							   size_t *len, const char **why);
extern int	raft_change_decode(const uint8_t *buf, size_t len, raft_change *change,
							   const char **why);

/*
 * Version byte of a timeline step payload (durable in the log, like
 * RAFT_CHANGE_VERSION).
 */
#define RAFT_TIMELINE_VERSION 1
/* Bytes of an encoded timeline step. */
#define RAFT_TIMELINE_ENCODED_SIZE 38
/* Encode a timeline step as an entry payload (cap >= RAFT_TIMELINE_ENCODED_SIZE). */
extern int	raft_timeline_encode(const raft_timeline *step, uint8_t *buf,
								 size_t cap, size_t *len, const char **why);
extern int	raft_timeline_decode(const uint8_t *buf, size_t len,
								 raft_timeline *step, const char **why);

typedef struct raft_envelope
{
	uint8_t		version;
	char		cluster_name[RAFT_MAX_CLUSTER_NAME + 1];
	raft_id		from;
	raft_id		to;
	uint32_t	count;			/* messages in the body */
	const uint8_t *body;		/* points into the decoded buffer */
	size_t		body_len;
} raft_envelope;

/* Bytes of envelope header before the messages. */
extern size_t raft_envelope_header_size(const char *cluster_name);
/* Write the envelope header for 'count' messages. */
extern int	raft_envelope_encode_header(const char *cluster_name, raft_id from,
										raft_id to, uint32_t count, uint8_t *buf,
										size_t cap, size_t *len, const char **why);
/* Append one message (u32 length + bytes) to an envelope under construction. */
extern int	raft_envelope_append(const raft_message *msg, uint8_t *buf, size_t cap,
								 size_t *len, const char **why);
/* Check the header and that the body holds exactly 'count' framed messages. */
extern int	raft_envelope_decode(const uint8_t *buf, size_t len, raft_envelope *env,
								 const char **why);
/*
 * Decode the next message of a checked envelope.  *offset starts at 0.
 * Returns RAFT_OK with a message, 1 when there are no more, or RAFT_EINVAL.
 */
extern int	raft_envelope_next(const raft_envelope *env, size_t *offset,
							   raft_message *msg, raft_entry *entries,
							   const char **why);

#ifdef __cplusplus
}
#endif

#endif							/* RAFT_H */
