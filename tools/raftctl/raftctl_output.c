/*
 * raftctl_output.c
 *	  raftctl: list and status as a table or as JSON.
 */
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "raftctl.h"

const char *const health_names[] = {"healthy", "degraded", "no primary"};

/* Print s as a JSON string (quoted, escaped); null if s is NULL. */
void
json_string(const char *s)
{
	if (s == NULL)
	{
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *c = (const unsigned char *) s; *c; c++)
	{
		if (*c == '"' || *c == '\\')
			printf("\\%c", *c);
		else if (*c == '\n')
			fputs("\\n", stdout);
		else if (*c < 0x20)
			printf("\\u%04x", *c);
		else
			putchar(*c);
	}
	putchar('"');
}

/* The highest term reachable members report, and the leader they name. */
static void
term_and_leader(const Member *members, int n, long long *term, int *leader)
{
	*term = 0;
	*leader = 0;
	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];

		if (m->reachable && m->term >= *term)
		{
			*term = m->term;
			if (m->leader)
				*leader = m->leader;
		}
	}
}

/*
 * A standby's copy of each of the primary's failover slots, and how far it
 * trails the primary's slot: "failover_slots": [{"name": "cdc",
 * "behind_bytes": 0}, ...], null where the standby has no copy.
 */
static void
print_failover_copies(const Member *primary, const Member *m)
{
	const char *p = primary->failover_slots,
			   *key,
			   *value;
	int			key_len,
				value_len;
	bool		first = true;

	fputs(", \"failover_slots\": [", stdout);
	while (list_next_item(&p, &key, &key_len, &value, &value_len))
	{
		long long	copy = list_position(m->failover_slots, key, key_len);
		char		name[NAMEDATALEN];

		snprintf(name, sizeof(name), "%.*s", key_len, key);
		printf("%s{\"name\": ", first ? "" : ", ");
		json_string(name);
		if (copy >= 0)
			printf(", \"behind_bytes\": %lld}", Max(atoll(value) - copy, 0));
		else
			fputs(", \"behind_bytes\": null}", stdout);
		first = false;
	}
	putchar(']');
}

/* Print the members as JSON: one object, the members in an array. */
void
print_json(const char *cluster, const Member *members, int n)
{
	const Member *primary = primary_of(members, n);
	long long	term;
	int			leader;

	term_and_leader(members, n, &term, &leader);
	printf("{\"cluster\": ");
	json_string(cluster);
	printf(", \"term\": %lld, \"leader\": ", term);
	if (leader)
		printf("%d", leader);
	else
		fputs("null", stdout);
	fputs(", \"primary\": ", stdout);
	if (primary)
		printf("%d", primary->id);
	else
		fputs("null", stdout);
	printf(", \"health\": \"%s\", \"members\": [", health_names[health_of(members, n)]);
	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];

		printf("%s\n  {\"id\": %d, \"host\": ", i ? "," : "", m->id);
		json_string(m->host);
		printf(", \"reachable\": %s", m->reachable ? "true" : "false");
		fputs(", \"slot\": ", stdout);
		json_string(m->slot[0] ? m->slot : NULL);
		fputs(", \"logical_slots\": ", stdout);
		json_string(m->logical[0] ? m->logical : NULL);
		if (m->logical_behind >= 0)
			printf(", \"logical_behind_bytes\": %lld", m->logical_behind);
		else
			fputs(", \"logical_behind_bytes\": null", stdout);
		if (primary && m != primary && m->reachable)
			print_failover_copies(primary, m);
		if (!m->reachable)
		{
			fputs(", \"error\": ", stdout);
			json_string(m->error);
			putchar('}');
			continue;
		}
		fputs(", \"role\": ", stdout);
		json_string(m == primary ? "primary" : m->in_recovery ? "replica" : "fenced");
		fputs(", \"raft_role\": ", stdout);
		json_string(m->raft_role);
		fputs(", \"state\": ", stdout);
		json_string(m->state);
		printf(", \"term\": %lld, \"timeline\": %d, \"lsn\": ", m->term, m->timeline);
		json_string(m->lsn);
		fputs(", \"lag_bytes\": ", stdout);
		if (primary && m != primary && primary->lsn_bytes >= m->lsn_bytes)
			printf("%llu", primary->lsn_bytes - m->lsn_bytes);
		else
			fputs("null", stdout);
		fputs(", \"timeline_standing\": ", stdout);
		json_string(m->standing[0] ? m->standing : NULL);
		fputs(", \"error\": ", stdout);
		json_string(m->raft_error[0] ? m->raft_error : NULL);
		putchar('}');
	}
	printf("\n]}\n");
}

/*
 * The Slot column: the member's slot on the primary, then whether its
 * copies of the failover slots are ready and, from 0.1 MB, how far they
 * trail the primary's ("active, logical ready, 2.5 MB behind").
 */
static void
slot_text(const Member *m, char *out, size_t len)
{
	double		behind_mb = (double) m->logical_behind / (1024.0 * 1024.0);
	char		behind[32] = "";

	if (behind_mb >= 0.1)
		snprintf(behind, sizeof(behind), ", %.1f MB behind", behind_mb);
	snprintf(out, len, "%s%s%s%s%s", m->slot, m->slot[0] && m->logical[0] ? ", " : "",
			 m->logical[0] ? "logical " : "", m->logical, m->logical[0] ? behind : "");
}

/* Print the members as a table, like patronictl list. */
void
print_table(const char *cluster, const Member *members, int n)
{
	const Member *primary = primary_of(members, n);
	long long	term;
	int			leader;
	char		leader_text[16] = "none";
	char		slot[80];
	int			slot_width = 8;
	char		dashes[80];

	for (int i = 0; i < n; i++)
	{
		slot_text(&members[i], slot, sizeof(slot));
		if ((int) strlen(slot) > slot_width)
			slot_width = (int) strlen(slot);
	}
	memset(dashes, '-', slot_width + 2);
	dashes[slot_width + 2] = '\0';

	term_and_leader(members, n, &term, &leader);
	if (leader)
		snprintf(leader_text, sizeof(leader_text), "%d", leader);
	printf("Cluster: %s (term %lld, leader %s, %s)\n",
		   cluster[0] ? cluster : "(default)", term, leader_text,
		   health_names[health_of(members, n)]);
	printf("%-6s | %-24s | %-7s | %-12s | %-11s | %3s | %-12s | %-*s | %s\n",
		   "Member", "Host", "Role", "Raft", "State", "TL", "LSN", slot_width, "Slot", "Lag in MB");
	printf("-------+--------------------------+---------+--------------+-------------+-----+--------------+%s+----------\n",
		   dashes);
	for (int i = 0; i < n; i++)
	{
		const Member *m = &members[i];
		char		lag[32] = "";

		slot_text(m, slot, sizeof(slot));
		if (!m->reachable)
		{
			printf("%-6d | %-24s | %-7s | %-12s | %-11s | %3s | %-12s | %-*s | %s\n",
				   m->id, m->host, "-", "-", "unreachable", "", "", slot_width, slot, "");
			continue;
		}
		if (primary && m != primary && primary->lsn_bytes >= m->lsn_bytes)
			snprintf(lag, sizeof(lag), "%.1f",
					 (double) (primary->lsn_bytes - m->lsn_bytes) / (1024.0 * 1024.0));
		printf("%-6d | %-24s | %-7s | %-12s | %-11s | %3d | %-12s | %-*s | %s%s\n",
			   m->id, m->host, pg_role(m, primary),
			   m->raft_role, m->state, m->timeline, m->lsn, slot_width, slot, lag,
			   strcmp(m->standing, "forked") == 0 ? " (forked)" : "");
	}
	for (int i = 0; i < n; i++)
		if (!members[i].reachable)
			fprintf(stderr, "%s: member %d: %s\n", progname, members[i].id, members[i].error);
}
