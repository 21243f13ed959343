/*
 * receive.c
 *	  raft_ext.receive(bytea): the receiving end of the transport.
 *
 * A peer's worker calls "SELECT raft_ext.receive($1)" with one envelope (a
 * batch of encoded messages for this node).  The backend that runs it checks
 * the whole envelope -- format, cluster name, destination, every message --
 * queues it for this node's worker and returns at once.  It never waits for
 * the worker or for a peer: messages are one-way, and replies travel back
 * over this node's own connection to the sender.  A full inbox drops the
 * envelope silently (it is counted): Raft tolerates lost messages, and an
 * error here would only make the sender reconnect.  A node id that two live
 * processes send as (a copy of a member that kept its node id) is refused:
 * see check_incarnation().
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "clock.h"
#include "pg_compat.h"
#include "settings.h"
#include "shmem.h"

PG_FUNCTION_INFO_V1(raft_ext_receive);

/* ERROR for input that does not decode. */
static void
reject_malformed(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("malformed raft batch"),
			 errdetail("%s", why ? why : "The batch does not decode.")));
}

/* Whether s is made of printable ASCII only (safe to put in a message). */
static bool
is_printable(const char *s)
{
	for (; *s; s++)
	{
		if (*s < 0x20 || *s > 0x7e)
			return false;
	}
	return true;
}

/*
 * The incarnation the sending worker put in its application_name
 * ("raft_ext_<id>_<16 hex digits>", transport.c), if it names node 'from'.
 * Older senders put only "raft_ext_<id>": no incarnation, no check.
 */
static bool
sender_incarnation(raft_id from, uint64 *incarnation)
{
	const char *name = application_name;
	char		expected[32];
	size_t		len;
	char	   *end;

	if (name == NULL)
		return false;
	snprintf(expected, sizeof(expected), "raft_ext_%u_", (unsigned) from);
	len = strlen(expected);
	if (strncmp(name, expected, len) != 0 || strlen(name + len) != 16)
		return false;
	errno = 0;
	*incarnation = strtou64(name + len, &end, 16);
	return errno == 0 && *end == '\0' && *incarnation != 0;
}

/*
 * Refuse a batch from the newer of two live processes that use one node
 * id.  A copy of a member's data directory (pg_basebackup) that keeps its
 * raft_ext.node_id is a second process acting as that member: it could
 * vote a second time in a term the member already voted in.  Each worker
 * process draws a random incarnation at start and sends it with every
 * connection; when an incarnation that had been replaced by another keeps
 * speaking (two batches: one may be a stale one from a process that just
 * died), both are alive, and the batches of the one that appeared later --
 * the copy -- are refused until one of the two has been silent for four
 * election timeouts.  The copy sees the refusal (SQLSTATE 42710) and stops
 * running Raft (worker.c); the established member, perhaps the leader,
 * carries on.  A copy's first batches, before the established one spoke
 * twice, are taken as a restart's: the same window as any detection by
 * traffic.
 */
static void
check_incarnation(raft_id from)
{
	uint64		incarnation;
	uint64		other = 0;
	raft_time	window = 4 * (raft_time) raft_election_timeout;

	if (!sender_incarnation(from, &incarnation))
		return;
	if (!raft_incarnation_seen(from, incarnation, raft_monotonic_now(),
							   window, &other))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DUPLICATE_OBJECT),
			 errmsg("node %u is running twice", (unsigned) from),
			 errdetail("Batches from node %u come from two live processes (incarnations %016llX and %016llX): "
					   "two servers use raft_ext.node_id = %u, and two servers voting as one member could elect two leaders in one term. "
					   "The batches of %016llX, which appeared while %016llX was running, are refused "
					   "until one of them has been silent for %lld ms.",
					   (unsigned) from, (unsigned long long) incarnation,
					   (unsigned long long) other, (unsigned) from,
					   (unsigned long long) incarnation, (unsigned long long) other,
					   (long long) window),
			 errhint("A copy of a member's data directory keeps its %s: give the copy a new node id "
					 "(and add it with raft_ext.add_node), or stop it.",
					 "raft_ext.node_id")));
}

/* raft_ext.receive(batch bytea) RETURNS void */
Datum
raft_ext_receive(PG_FUNCTION_ARGS)
{
	bytea	   *batch;
	const uint8 *data;
	size_t		len;
	raft_envelope env;
	raft_message msg;
	raft_entry *entries;
	size_t		offset = 0;
	const char *why = NULL;
	int			rc;
	char		cluster_name[RAFT_MAX_CLUSTER_NAME + 1];

	raft_require_shared();
	if (raft_node_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is not set on this node", "raft_ext.node_id")));
	if (PG_ARGISNULL(0))
		reject_malformed("The batch is NULL.");

	batch = PG_GETARG_BYTEA_PP(0);
	data = (const uint8 *) VARDATA_ANY(batch);
	len = VARSIZE_ANY_EXHDR(batch);

	if (len > RAFT_INBOX_SIZE - sizeof(uint32))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("raft batch is too large"),
				 errdetail("The batch has %zu bytes; at most %zu are accepted.",
						   len, (size_t) (RAFT_INBOX_SIZE - sizeof(uint32)))));

	if (raft_envelope_decode(data, len, &env, &why) != RAFT_OK)
		reject_malformed(why);
	/* The codec refuses wire versions this build does not speak. */
	if (!is_printable(env.cluster_name))
		reject_malformed("The cluster name is not printable ASCII.");
	raft_effective_cluster_name(cluster_name);
	if (strcmp(env.cluster_name, cluster_name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("raft batch is for cluster \"%s\", this node is in cluster \"%s\"",
						env.cluster_name, cluster_name),
				 errhint("Check %s on both nodes. Unset, it is \"pg-\" and the database system identifier, "
						 "which only a primary and its streaming standbys share: members made by separate "
						 "initdb runs must set the same name.",
						 "raft_ext.cluster_name")));
	if (env.to != (raft_id) raft_node_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("raft batch is for node %u, this node is node %d",
						(unsigned) env.to, raft_node_id),
				 errhint("Check %s on the sending node.", "raft_ext.peers")));
	if (env.from == RAFT_NOBODY || env.from == env.to)
		reject_malformed(psprintf("The batch claims to come from node %u.",
								  (unsigned) env.from));

	/* Every message must decode and travel the envelope's way. */
	entries = palloc(sizeof(raft_entry) * RAFT_MAX_ENTRIES_PER_MSG);
	for (uint32 i = 0;; i++)
	{
		rc = raft_envelope_next(&env, &offset, &msg, entries, &why);
		if (rc == 1)
			break;
		if (rc != RAFT_OK)
			reject_malformed(psprintf("Message %u: %s", i + 1,
									  why ? why : "it does not decode."));
		if (msg.from != env.from || msg.to != env.to)
			reject_malformed(psprintf("Message %u goes from node %u to node %u, but the batch goes from node %u to node %u.",
									  i + 1, (unsigned) msg.from,
									  (unsigned) msg.to, (unsigned) env.from,
									  (unsigned) env.to));
	}
	pfree(entries);

	check_incarnation(env.from);

	/* A full inbox drops and counts; Raft retransmits. */
	(void) raft_inbox_put(data, (uint32) len);

	PG_RETURN_VOID();
}
