/*
 * timeline_step.c
 *	  The primary's timeline in the Raft log's timeline history.
 *
 * PostgreSQL's timelines fork, so the engine judges WAL positions against
 * the history of timelines that the Raft log records (src/raft/
 * raft_history.c), never by timeline number.  This file keeps the history
 * true from the PostgreSQL side:
 *
 * - a leader whose server is a primary proposes its timeline as the
 *   history's newest step (with where it begins, its parent, when and why)
 *   as soon as it sees it; this is how a promotion enters the history;
 * - until that step is committed, the fence sees no lease: a commit
 *   acknowledged on a timeline that no majority has recorded could be lost
 *   to a later election that judges that timeline a fork.  The wait is one
 *   round trip after the promotion;
 * - a node whose own WAL left the history (an operator's pg_promote(), a
 *   promotion that completed after its node lost leadership, an old primary
 *   past the switch point) says so in the log and in raft_status; the
 *   leader says the same of each member that reports such a position.  The
 *   engine makes sure such a node does not win an election over a member
 *   holding the history, and auto_rejoin rewinds it onto the leader.
 */
#include "postgres.h"

#include <fcntl.h>
#include <unistd.h>

#include "access/timeline.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "lib/stringinfo.h"
#include "storage/fd.h"
#include "utils/timestamp.h"

#include "settings.h"
#include "timeline_step.h"

/* What was last logged about each member's standing, to log changes only. */
typedef struct LoggedStanding
{
	raft_id		id;
	uint64		tli;
	uint64		begin;
	uint8		standing;
} LoggedStanding;

static LoggedStanding logged[RAFT_MAX_MEMBERS + 1];

/* See timeline_step.h. */
const char *
raft_timeline_reason_name(uint8 reason)
{
	switch (reason)
	{
		case RAFT_TIMELINE_FIRST:
			return "first primary";
		case RAFT_TIMELINE_PROMOTED:
			return "promotion";
		case RAFT_TIMELINE_ADOPTED:
			return "adopted";
		case RAFT_TIMELINE_ANCESTOR:
			return "ancestor";
		default:
			return "unknown";
	}
}

/* Milliseconds since the Unix epoch, for the step's record. */
static int64
unix_ms_now(void)
{
	TimestampTz now = GetCurrentTimestamp();

	return (int64) (now / 1000) +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
}

/* Whether the history holds timeline 'tli' that begins at 'begin'. */
static bool
history_holds(const raft_timeline *history, int n, uint64 tli, uint64 begin)
{
	for (int i = 0; i < n; i++)
		if (history[i].tli == tli && history[i].begin == begin)
			return true;
	return false;
}

/*
 * Before the step of a primary whose parent timeline is not the history's
 * timeline of that id (a fork that won an election: its parent may be
 * another server's timeline of the same id, an operator's promotion that
 * collided), record its ancestors since the newest one the history holds,
 * oldest first, so that the history runs through its WAL and its own step
 * chains onto its true parent (the engine finds a step's parent by id).
 * Nothing when no ancestor is on the history: the step then starts it
 * afresh.
 */
static void
propose_ancestors(raft_node *node, raft_position pos)
{
	int			n;
	const raft_timeline *history = raft_get_history(node, &n, NULL);
	List	   *ancestry;
	int			count;
	int			held = -1;

	if (n == 0 || pos.parent == 0 ||
		history_holds(history, n, pos.parent, pos.parent_begin))
		return;
	/* newest first: the timeline itself, its parent, ... */
	ancestry = readTimeLineHistory((TimeLineID) pos.major);
	count = list_length(ancestry);
	for (int i = 1; i < count && held < 0; i++)
	{
		TimeLineHistoryEntry *e = list_nth(ancestry, i);

		if (history_holds(history, n, e->tli, e->begin))
			held = i;
	}
	for (int i = held - 1; i >= 1; i--)
	{
		TimeLineHistoryEntry *e = list_nth(ancestry, i);
		TimeLineHistoryEntry *up = list_nth(ancestry, i + 1);
		raft_timeline step;
		raft_index	index = 0;

		memset(&step, 0, sizeof(step));
		step.tli = e->tli;
		step.begin = e->begin;
		step.parent = up->tli;
		step.node = (raft_id) raft_node_id;
		step.time = unix_ms_now();
		step.reason = RAFT_TIMELINE_ANCESTOR;
		if (raft_propose_timeline(node, &step, &index) != RAFT_OK)
			break;
		ereport(LOG,
				(errmsg("node %u records timeline %u, an ancestor of its timeline %u, in the timeline history",
						(unsigned) raft_node_id, (unsigned) e->tli,
						(unsigned) pos.major),
				 errdetail("Timeline %u begins at %X/%X on timeline %u; the history's timeline of that id, if any, is another.",
						   (unsigned) e->tli, LSN_FORMAT_ARGS(e->begin),
						   (unsigned) up->tli)));
	}
	list_free_deep(ancestry);
}

/* Propose this primary's timeline if the history's newest step is another. */
static void
propose_own_step(raft_node *node, raft_position pos)
{
	int			n;
	const raft_timeline *history = raft_get_history(node, &n, NULL);
	raft_timeline step;
	raft_index	index = 0;
	int			rc;

	if (pos.major == 0)
		return;
	if (n > 0 && history[n - 1].tli == pos.major &&
		history[n - 1].begin == pos.begin)
		return;

	propose_ancestors(node, pos);
	history = raft_get_history(node, &n, NULL);
	memset(&step, 0, sizeof(step));
	step.tli = pos.major;
	step.begin = pos.begin;
	step.parent = pos.parent;
	step.node = (raft_id) raft_node_id;
	step.time = unix_ms_now();
	if (n == 0)
		step.reason = RAFT_TIMELINE_FIRST;
	else if (pos.parent == history[n - 1].tli && pos.begin >= history[n - 1].begin)
		step.reason = RAFT_TIMELINE_PROMOTED;
	else
		step.reason = RAFT_TIMELINE_ADOPTED;

	rc = raft_propose_timeline(node, &step, &index);
	if (rc == RAFT_OK && index != 0)
		ereport(LOG,
				(errmsg("node %u records timeline %u in the timeline history (%s, term %llu)",
						(unsigned) raft_node_id, (unsigned) pos.major,
						raft_timeline_reason_name(step.reason),
						(unsigned long long) raft_get_term(node)),
				 errdetail("Timeline %u begins at %X/%X on timeline %u; this primary takes writes once the record is committed.",
						   (unsigned) pos.major, LSN_FORMAT_ARGS((XLogRecPtr) pos.begin),
						   (unsigned) pos.parent)));
	else if (rc != RAFT_OK && rc != RAFT_EBUSY && rc != RAFT_ENOTLEADER)
		ereport(WARNING,
				(errmsg("node %u could not record timeline %u in the timeline history: %s",
						(unsigned) raft_node_id, (unsigned) pos.major,
						raft_strerror(rc))));
}

/* Log a member's (or our own) standing when it changes to or from forked. */
static void
log_standing(raft_id id, raft_position pos, raft_standing standing, uint64 held,
			 bool self)
{
	LoggedStanding *slot = NULL;

	for (size_t i = 0; i < lengthof(logged) && slot == NULL; i++)
		if (logged[i].id == id)
			slot = &logged[i];
	for (size_t i = 0; i < lengthof(logged) && slot == NULL; i++)
		if (logged[i].id == RAFT_NOBODY)
			slot = &logged[i];
	if (slot == NULL)
		return;
	if (slot->id == id && slot->standing == (uint8) standing &&
		slot->tli == pos.major && slot->begin == pos.begin)
		return;
	if (standing == RAFT_STANDING_FORKED)
		ereport(LOG,
				(errmsg("%s %u is on a forked timeline: timeline %u at %X/%X left the timeline history at %X/%X",
						self ? "this node," : "member", (unsigned) id,
						(unsigned) pos.major, LSN_FORMAT_ARGS((XLogRecPtr) pos.minor),
						LSN_FORMAT_ARGS((XLogRecPtr) held)),
				 errdetail("Its WAL past that point is not the cluster's: it is never elected over a member holding the history, and the fence refuses its writes."),
				 errhint("raft_ext.auto_rejoin rewinds it onto the leader; otherwise rewind it with pg_rewind.")));
	else if (slot->id == id && slot->standing == RAFT_STANDING_FORKED)
		ereport(LOG,
				(errmsg("%s %u is back on the timeline history (timeline %u)",
						self ? "this node," : "member", (unsigned) id,
						(unsigned) pos.major)));
	slot->id = id;
	slot->tli = pos.major;
	slot->begin = pos.begin;
	slot->standing = (uint8) standing;
}

/* See timeline_step.h. */
void
raft_timeline_step(raft_node *node, const RaftStatus *status)
{
	if (node == NULL)
		return;
	if (raft_get_role(node) == RAFT_LEADER && !RecoveryInProgress())
		propose_own_step(node, status->position);

	log_standing((raft_id) raft_node_id, status->position,
				 (raft_standing) status->standing, status->history_holds, true);
	for (int i = 0; i < status->n_peers; i++)
	{
		const RaftPeerStatus *peer = &status->peers[i];

		if (!peer->is_self && peer->standing != RAFT_STANDING_UNKNOWN)
			log_standing(peer->id, peer->position, (raft_standing) peer->standing,
						 peer->history_holds, false);
	}
}

/*
 * The history file content of a timeline that branched from 'parent' at
 * 'begin', as PostgreSQL would have written it, if this node can tell:
 * 'parent' is its own timeline or one of that one's ancestors (their lines
 * come from its own history file).  Otherwise (or for an id no timeline
 * uses) no line at all: a timeline that is nobody's child.
 */
static void
reserved_content(StringInfo buf, List *ancestry, uint64 parent, uint64 begin,
				 const char *whose)
{
	int			count = list_length(ancestry);
	int			at = -1;

	/* ancestry is newest first: the own timeline, its parent, ... */
	for (int i = 0; i < count && at < 0 && parent != 0; i++)
		if (((TimeLineHistoryEntry *) list_nth(ancestry, i))->tli == parent)
			at = i;
	if (at < 0)
		return;
	for (int i = count - 1; i > at; i--)
	{
		TimeLineHistoryEntry *e = list_nth(ancestry, i);

		appendStringInfo(buf, "%u\t%X/%X\tcopied by raft_ext from its own timeline history\n",
						 (unsigned) e->tli, LSN_FORMAT_ARGS(e->end));
	}
	appendStringInfo(buf, "%u\t%X/%X\traft_ext: %s, reserved so that a promotion picks another id\n",
					 (unsigned) parent, LSN_FORMAT_ARGS((XLogRecPtr) begin), whose);
}

/*
 * The known timeline 'tli' (a member's position, a step of the history):
 * its parent and beginning, and whose it is.  False if no one uses it.
 */
static bool
known_timeline(const RaftStatus *status, uint64 tli, uint64 *parent,
			   uint64 *begin, char *whose, size_t whose_len)
{
	bool		known = false;

	for (int i = 0; i < status->n_peers; i++)
	{
		const raft_position *p = &status->peers[i].position;

		if (p->major == tli && p->parent != 0)
		{
			*parent = p->parent;
			*begin = p->begin;
			snprintf(whose, whose_len, "the timeline of member %u",
					 (unsigned) status->peers[i].id);
			known = true;
		}
	}
	for (int i = 0; i < status->n_history; i++)
	{
		if (status->history[i].tli == tli && status->history[i].parent != 0)
		{
			*parent = status->history[i].parent;
			*begin = status->history[i].begin;
			snprintf(whose, whose_len, "a timeline of the history");
			known = true;
		}
	}
	return known;
}

/*
 * Write pg_wal's history file for timeline 'tli' (which this node does not
 * have).  True if written (a failure is logged).
 *
 * Not fsynced: the files only have to be seen by the promotion that follows
 * (PostgreSQL picks its id by looking for them, in the page cache like any
 * file), and a crash that loses them loses nothing a later promotion needs:
 * that one reserves again.  Syncing each of up to 63 files and pg_wal after
 * each kept the worker from its heartbeats for over an election timeout on
 * a busy machine, and the leader lost the leadership it was promoting with
 * (CI, TAP 044).  Written whole under a temporary name and renamed, so a
 * file is never seen half written.
 */
static bool
reserve_id(TimeLineID tli, const StringInfo content)
{
	char		path[MAXPGPATH];
	char		tmppath[MAXPGPATH];
	char		fname[MAXFNAMELEN];
	int			fd;

	TLHistoryFileName(fname, tli);
	snprintf(path, sizeof(path), XLOGDIR "/%s", fname);
	snprintf(tmppath, sizeof(tmppath), XLOGDIR "/%s.raft_ext.tmp", fname);
	fd = OpenTransientFile(tmppath, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	if (fd < 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not create file \"%s\": %m", tmppath)));
		return false;
	}
	if (content->len > 0 && write(fd, content->data, content->len) != content->len)
	{
		if (errno == 0)
			errno = ENOSPC;
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", tmppath)));
		CloseTransientFile(fd);
		unlink(tmppath);
		return false;
	}
	if (CloseTransientFile(fd) != 0 || rename(tmppath, path) != 0)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", path)));
		unlink(tmppath);
		return false;
	}
	return true;
}

/*
 * See timeline_step.h.  The files must not draw the startup process onto
 * them: with recovery_target_timeline = 'latest' it rescans for the newest
 * history file while it waits for WAL and follows it if it is a child of
 * the timeline it replays, and at promotion the new timeline's parent is
 * that recovery target.  (A reserved id written as a child of our own
 * timeline did exactly that in TAP 037: "new target timeline is 64", then
 * timeline 65 with a history that lacked timeline 1, and pg_rewind found
 * no common ancestor.)  So an id no one uses gets an empty history (a
 * timeline that is nobody's child), a member's timeline gets its true
 * history where this node can tell it (a standby may yet stream it: the
 * WAL receiver fetches only history files it lacks), and the newest
 * reserved id, the one PostgreSQL looks at, is never a child of our own
 * timeline: if a member's timeline is there, we take the next id that is
 * ours.
 */
void
raft_timeline_reserve_ids(const RaftStatus *status)
{
	TimeLineID	own = (TimeLineID) status->position.major;
	uint64		newest = own;
	List	   *ancestry;
	StringInfoData content;
	TimeLineID	first = 0;
	TimeLineID	last = 0;

	if (own == 0)
		return;
	for (int i = 0; i < status->n_peers; i++)
		newest = Max(newest, status->peers[i].position.major);
	for (int i = 0; i < status->n_history; i++)
		newest = Max(newest, status->history[i].tli);
	/*
	 * PostgreSQL picks the id after the newest history file: make that the
	 * first id past every known one that is this node's own modulo
	 * RAFT_TIMELINE_ID_STRIDE, so that two members promoting without
	 * knowing of each other (a promotion completing late, after another
	 * member's) never pick the same id.
	 */
	newest++;
	for (;;)
	{
		uint64		parent = 0;
		uint64		begin = 0;
		char		whose[64];

		while (newest % RAFT_TIMELINE_ID_STRIDE !=
			   (uint64) raft_node_id % RAFT_TIMELINE_ID_STRIDE)
			newest++;
		if (newest - 1 <= own ||
			!known_timeline(status, newest - 1, &parent, &begin, whose, sizeof(whose)) ||
			parent != own)
			break;
		newest++;
	}
	newest--;
	if (newest > PG_UINT32_MAX - 1)
		return;

	ancestry = readTimeLineHistory(own);
	initStringInfo(&content);
	for (TimeLineID tli = own + 1; tli <= (TimeLineID) newest; tli++)
	{
		char		whose[64];
		uint64		parent = 0;
		uint64		begin = 0;

		if (existsTimeLineHistory(tli))
			continue;
		resetStringInfo(&content);
		if (known_timeline(status, tli, &parent, &begin, whose, sizeof(whose)))
			reserved_content(&content, ancestry, parent, begin, whose);
		if (!reserve_id(tli, &content))
			continue;
		if (first == 0)
			first = tli;
		last = tli;
	}
	if (first != 0)
		ereport(LOG,
				(errmsg("node %u reserves timelines %u to %u before promoting, so that its promotion takes timeline %u",
						(unsigned) raft_node_id, (unsigned) first, (unsigned) last,
						(unsigned) (newest + 1)),
				 errdetail("Each member promotes to an id of its own (the node id modulo %d), past every timeline it knows of, so that two promotions never pick the same id.",
						   RAFT_TIMELINE_ID_STRIDE)));
	pfree(content.data);
	list_free_deep(ancestry);
}

/* See timeline_step.h. */
raft_time
raft_timeline_gate_lease(raft_node *node, raft_position position, raft_time lease)
{
	if (node == NULL || lease == 0 || RecoveryInProgress())
		return lease;
	return raft_timeline_committed(node, position.major, position.begin) ? lease : 0;
}

/* See timeline_step.h. */
void
raft_timeline_fill_status(raft_node *node, RaftStatus *status)
{
	const raft_timeline *history;
	const raft_index *indexes;
	int			n;

	status->standing = (uint8) raft_position_standing(node, status->position,
													  &status->history_holds);
	status->timeline_committed =
		raft_timeline_committed(node, status->position.major,
								status->position.begin);
	history = raft_get_history(node, &n, &indexes);
	status->n_history = n;
	for (int i = 0; i < n; i++)
	{
		raft_entry	e;

		status->history[i] = history[i];
		status->history_index[i] = indexes[i];
		status->history_term[i] = raft_get_entry(node, indexes[i], &e) ? e.term : 0;
	}
	for (int i = 0; i < status->n_peers; i++)
	{
		RaftPeerStatus *peer = &status->peers[i];
		raft_peer_progress progress;

		if (peer->is_self)
		{
			peer->position = status->position;
			peer->standing = status->standing;
			peer->history_holds = status->history_holds;
		}
		else if (raft_get_progress(node, peer->id, &progress) &&
				 (progress.position.major != 0 || progress.position.minor != 0))
		{
			peer->position = progress.position;
			peer->standing = (uint8) raft_position_standing(node, progress.position,
															&peer->history_holds);
		}
	}
}
