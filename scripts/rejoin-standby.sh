#!/usr/bin/env bash
# rejoin-standby.sh: turn a former primary into a standby of the current
# leader, for operators who keep raft_ext.auto_rejoin off.  The work is done
# by raft_ext_rejoin (beside this script, and installed into PostgreSQL's
# bindir by "make install"), the same helper the raft_ext worker starts when
# raft_ext.auto_rejoin is on; see its header for the options.
exec "$(dirname "$0")/raft_ext_rejoin" "$@"
