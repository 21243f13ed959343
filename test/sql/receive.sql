-- raft_ext.receive() refuses malformed and misaddressed batches.  Envelopes
-- are built by hand following docs/wire-format.md: magic "RAFT", version,
-- name length, cluster name, from, to, count (little-endian), then frames.

-- garbage
SELECT raft_ext.receive(NULL);
SELECT raft_ext.receive('');
SELECT raft_ext.receive('\xdeadbeef');
SELECT raft_ext.receive(convert_to('hello, raft', 'UTF8'));
-- an envelope header cut short
SELECT raft_ext.receive('\x524146540407726567726573730200');
-- count says one message, the body holds none
SELECT raft_ext.receive('\x52414654040772656772657373020000000100000001000000');
-- an unknown wire version; version 1 (before APPEND_RESPONSE carried the
-- sender's election timeout) and 2 (before APPEND carried the recipient's
-- rank) and 3 (before vote requests carried the timeline history)
SELECT raft_ext.receive('\x52414654050772656772657373020000000100000000000000');
SELECT raft_ext.receive('\x52414654010772656772657373020000000100000000000000');
SELECT raft_ext.receive('\x52414654020772656772657373020000000100000000000000');
SELECT raft_ext.receive('\x52414654030772656772657373020000000100000000000000');
-- another cluster ("other")
SELECT raft_ext.receive('\x5241465404056f74686572020000000100000000000000');
-- another node (from 3 to 2)
SELECT raft_ext.receive('\x52414654040772656772657373030000000200000000000000');
-- a message whose sender differs from the envelope's
SELECT raft_ext.receive('\x5241465404077265677265737302000000010000000100000012000000040703000000010000000000000000000000');
-- too large for the inbox
SELECT raft_ext.receive(decode(repeat('00', 1024 * 1024), 'hex'));

-- well-formed batches are queued and the call returns at once: an empty one,
-- and a stale TIMEOUT_NOW from a non-member, which the engine drops
SELECT raft_ext.receive('\x52414654040772656772657373020000000100000000000000');
SELECT raft_ext.receive('\x5241465404077265677265737302000000010000000100000012000000040702000000010000000000000000000000');

-- and they do not disturb the leader
SELECT raft_ext.wait_for_leader('30s') AS leader;
