/*
 * raft_transfer.c
 *	  Leadership transfer: bring the target up to date, then TIMEOUT_NOW.
 *
 * From the moment a transfer starts the leader refuses proposals (so the
 * target can catch up) and holds no lease: the target's election overrides
 * stickiness, so the lease's guarantee no longer holds.  A transfer that has
 * not completed within ET is abandoned.  If TIMEOUT_NOW was already sent,
 * the abandoning leader steps down instead of carrying on: the target's vote
 * requests may still be in flight and could win this very term's successor
 * at any time, so this leader must never regain a lease in its term.  A
 * fresh election (in which stickiness applies again) settles it.
 *
 * "Up to date" covers the target's position as well as its log.  Voters
 * refuse a candidate whose position trails theirs by more than
 * max_position_lag, and the leader, being a voter, is usually the one
 * furthest ahead (a primary is always a little ahead of its standbys).  So
 * TIMEOUT_NOW waits until the position the target last reported is within
 * the lag of the leader's own.  Once the transfer has started, the caller's
 * fence stops new writes on the leader (it has no lease), its position soon
 * stops moving and the target catches up; each APPEND_RESPONSE the target
 * sends reports its position and re-runs the check.  A report may be older
 * than the leader's current position, but positions only move forward, so
 * an old report that passes means a current one would too.
 *
 * The hold.  Dropping the lease stops new commits at the caller's fence,
 * but a commit that passed the fence just before may still be completing
 * (the extension's fence lets a commit through only while the lease runs
 * at least raft_ext.fencing_headroom longer, and that is how long it may
 * take).  The target's campaign skips stickiness and can win within a
 * round trip, so TIMEOUT_NOW waits until options.transfer_hold after the
 * drop -- or until the dropped lease would have ended, if sooner, since no
 * commit can outlast the lease it passed under
 * (test_timeout_now_held_after_lease_drop).
 */
#include "raft_internal.h"

/* Stop a transfer under way (no step-down; see raft__transfer_tick). */
void
raft__transfer_cancel(raft_node *n)
{
	n->transfer_target = RAFT_NOBODY;
	n->timeout_now_sent = false;
}

/*
 * Send TIMEOUT_NOW once the target has everything we have: our whole log,
 * and a position within the voters' tolerance of ours ({0, 0} on either
 * side: nothing to wait for).  A target holding our whole log has answered
 * in this term, so the position compared is its own report, not the zero
 * that progress starts from.
 */
void
raft__transfer_check(raft_node *n, raft_progress *pr)
{
	raft_message *m;

	if (n->role != RAFT_LEADER || n->transfer_target == RAFT_NOBODY ||
		pr == NULL || pr->id != n->transfer_target || n->timeout_now_sent)
		return;
	if (n->now < n->transfer_hold_until)
		return;					/* raft__transfer_tick checks again */
	if (pr->match < raft__last_index(n))
		return;
	if (raft__position_refused(n, n->position, pr->position, n->history,
							   n->n_history))
		return;
	m = raft__new_message(n, RAFT_MSG_TIMEOUT_NOW, pr->id);
	if (m == NULL)
		return;
	n->timeout_now_sent = true;
}

/*
 * Leader tick: send TIMEOUT_NOW once the hold is over (no response may come
 * to trigger it), abandon a transfer that has taken longer than the hold
 * plus ET.
 */
void
raft__transfer_tick(raft_node *n)
{
	bool		sent;

	if (n->transfer_target == RAFT_NOBODY)
		return;
	if (!n->timeout_now_sent && n->now >= n->transfer_hold_until)
		raft__transfer_check(n, raft__progress(n, n->transfer_target));
	sent = n->timeout_now_sent;
	if (n->now < n->transfer_deadline)
		return;
	n->stats.transfers_abandoned++;
	raft__transfer_cancel(n);
	if (sent)
		raft__become_follower(n, n->term, RAFT_NOBODY);
	else
		raft__update_lease(n);
}

/* Hand leadership to 'target' (see raft.h). */
int
raft_transfer_leadership(raft_node *n, raft_id target, raft_time now)
{
	raft_progress *pr;

	if (now > n->now)
		n->now = now;
	n->started = true;
	if (n->role != RAFT_LEADER)
		return RAFT_ENOTLEADER;
	if (n->transfer_target != RAFT_NOBODY)
		return RAFT_EBUSY;
	if (target == n->id || target == RAFT_NOBODY)
		return RAFT_EINVAL;
	if (!raft__is_member(n, target))
		return RAFT_EUNKNOWN;
	if (!raft_is_voter(n, target))
		return RAFT_EINVAL;
	pr = raft__progress(n, target);
	if (pr == NULL)
		return RAFT_EUNKNOWN;
	/* a silent target cannot campaign: keep leading, keep the lease */
	if (pr->last_contact == 0 ||
		n->now - pr->last_contact >= n->opts.election_timeout)
		return RAFT_EUNREACHABLE;
	n->transfer_target = target;
	n->transfer_hold_until = n->now;
#ifndef RAFT_MUTANT_NO_TRANSFER_HOLD
	if (n->lease_until > n->now)
		n->transfer_hold_until = n->now + n->opts.transfer_hold < n->lease_until ?
			n->now + n->opts.transfer_hold : n->lease_until;
#endif
	n->transfer_deadline = n->transfer_hold_until + n->opts.election_timeout;
	n->timeout_now_sent = false;
	n->lease_until = 0;
	raft__transfer_check(n, pr);

	/*
	 * Not ready yet: send the missing entries, or a heartbeat whose
	 * response reports the target's position, rather than wait for the
	 * next heartbeat round.
	 */
	if (!n->timeout_now_sent)
		raft__send_append(n, pr, true);
	return RAFT_OK;
}

/* Follower: the leader orders us to campaign at once. */
void
raft__handle_timeout_now(raft_node *n, const raft_message *m)
{
	if (n->role == RAFT_LEADER)
	{
		n->stats.msgs_dropped_invalid++;
		return;
	}
	if (n->leader != RAFT_NOBODY && n->leader != m->from)
	{
		n->stats.msgs_dropped_invalid++;
		return;
	}
	if (!raft__can_campaign(n))
		return;
	raft__campaign(n, true);
}
