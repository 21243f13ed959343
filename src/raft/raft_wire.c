/*
 * raft_wire.c
 *	  The codec's tables of failure reasons: one constant string per byte
 *	  value for every one-byte field the decoder checks, so that a reason
 *	  can name the offending value without formatting at run time.
 */
#include "raft_wire.h"

/*
 * X(0) ... X(255): expands a reason template once per byte value.  TENS
 * pastes a last digit onto a prefix (an empty prefix gives 0 .. 9).
 */
#define TENS(X, p) \
	X(p##0) X(p##1) X(p##2) X(p##3) X(p##4) \
	X(p##5) X(p##6) X(p##7) X(p##8) X(p##9)
#define BYTE_VALUES(X) \
	TENS(X, ) TENS(X, 1) TENS(X, 2) TENS(X, 3) TENS(X, 4) TENS(X, 5) \
	TENS(X, 6) TENS(X, 7) TENS(X, 8) TENS(X, 9) TENS(X, 10) TENS(X, 11) \
	TENS(X, 12) TENS(X, 13) TENS(X, 14) TENS(X, 15) TENS(X, 16) \
	TENS(X, 17) TENS(X, 18) TENS(X, 19) TENS(X, 20) TENS(X, 21) \
	TENS(X, 22) TENS(X, 23) TENS(X, 24) \
	X(250) X(251) X(252) X(253) X(254) X(255)

#define WHY_VERSION(n) \
	"unsupported wire version " #n " (this build speaks version " \
	STRINGIFY(RAFT_WIRE_VERSION) ")",
#define WHY_CHANGE_VERSION(n) \
	"unsupported membership change version " #n " (this build reads " \
	"version " STRINGIFY(RAFT_CHANGE_VERSION) ")",
#define WHY_MSG_TYPE(n) "unknown message type " #n,
#define WHY_ENTRY_TYPE(n) "unknown entry type " #n,
#define WHY_REFUSAL(n) "unknown vote refusal code " #n,
#define WHY_CHANGE_OP(n) "unknown membership change op " #n,
#define WHY_ENTRY_COUNT(n) \
	"entry count " #n " exceeds limit " STRINGIFY(RAFT_MAX_ENTRIES_PER_MSG),
#define WHY_NAME_LENGTH(n) \
	"cluster name length " #n " exceeds limit " \
	STRINGIFY(RAFT_MAX_CLUSTER_NAME),

const char *const raft__why_version[] = {BYTE_VALUES(WHY_VERSION)};
const char *const raft__why_change_version[] = {BYTE_VALUES(WHY_CHANGE_VERSION)};
const char *const raft__why_msg_type[] = {BYTE_VALUES(WHY_MSG_TYPE)};
const char *const raft__why_entry_type[] = {BYTE_VALUES(WHY_ENTRY_TYPE)};
const char *const raft__why_refusal[] = {BYTE_VALUES(WHY_REFUSAL)};
const char *const raft__why_change_op[] = {BYTE_VALUES(WHY_CHANGE_OP)};
const char *const raft__why_entry_count[] = {BYTE_VALUES(WHY_ENTRY_COUNT)};
const char *const raft__why_name_length[] = {BYTE_VALUES(WHY_NAME_LENGTH)};

_Static_assert(sizeof(raft__why_version) / sizeof(raft__why_version[0]) == 256,
			   "BYTE_VALUES must expand to exactly one entry per byte value");
