
# Copyright: the raft_ext authors.

# A node whose Raft state file is damaged must stop running Raft with a clear
# message and never silently start over with term 0 and no vote (it could
# then vote twice in one term).  The two healthy nodes keep a leader.
#
# Cases on one follower: a flipped byte in the state file (checksum), a
# truncated state file, a missing state file while the log exists, a flipped
# byte in a log segment.  Between the cases the operator's remedy -- putting
# back the copy saved while the node was stopped -- brings it back into the
# cluster.  Last, a torn append at the end of the log, which is what a crash
# leaves behind: that one is repaired with a LOG message, not an error.

use strict;
use warnings;

use File::Copy;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use RaftTest;
use Test::More;

my @nodes = RaftTest::create_cluster(3);
my ($leader, $term) = RaftTest::wait_for_leader(\@nodes);
ok(defined $leader, 'three nodes elect a leader');

# The victim is a follower, so the other two keep their leader throughout.
my ($victim) = grep { $_ != $leader } @nodes;
my @others = grep { $_ != $victim } @nodes;
my $state_dir = $victim->safe_psql('postgres',
	'SHOW raft_ext.state_directory');
$state_dir = $victim->data_dir . "/$state_dir" unless $state_dir =~ m{^/};
my $state = "$state_dir/state";
my $saved = $victim->basedir . '/state.saved';
note('victim: ' . $victim->name . ", state file $state");

# Overwrite a whole file.
sub spew_bytes
{
	my ($path, $data) = @_;
	open my $fh, '>:raw', $path or die "open $path: $!";
	print $fh $data;
	close $fh;
	return;
}

# Start the victim with a damaged state directory and check that it refuses
# to run Raft, says why, leaves the file alone, and that the others still
# have a leader.
sub check_refused
{
	my ($case, $log_re, $error_re) = @_;
	my $before = -e $state ? RaftTest::slurp_bytes($state) : undef;
	my $offset = -s $victim->logfile;

	$victim->start;
	$victim->wait_for_log($log_re, $offset);
	pass("$case: the server log says why");

	$victim->poll_query_until('postgres',
		"SELECT coalesce(error, '') <> '' FROM raft_status")
	  or die "$case: raft_status.error stayed empty";
	my $error =
	  $victim->safe_psql('postgres', 'SELECT error FROM raft_status');
	like($error, $error_re, "$case: raft_status.error reports it");

	my ($l, $t) = RaftTest::wait_for_leader(\@others);
	ok(defined $l, "$case: the two healthy nodes still have a leader");

	if (defined $before)
	{
		ok(RaftTest::slurp_bytes($state) eq $before,
			"$case: the damaged file was not rewritten");
	}
	else
	{
		ok(!-e $state, "$case: no fresh state file was made up");
	}
	$victim->stop;
	return;
}

# Put the saved file back and check the node rejoins the cluster.
sub check_restored
{
	my ($case) = @_;
	copy($saved, $state) or die "copy: $!";
	$victim->start;
	my ($l, $t) = RaftTest::wait_for_leader(\@nodes);
	ok(defined $l, "$case: with the file restored the node rejoins");
	is($victim->safe_psql('postgres',
			"SELECT coalesce(error, '') FROM raft_status"),
		'', "$case: and reports no error");
	return;
}

# Stop the victim and save its state file, as an operator's backup would.
sub stop_and_save
{
	$victim->stop;
	copy($state, $saved) or die "copy: $!";
	my $good = RaftTest::slurp_bytes($saved);
	cmp_ok(length($good), '>=', 100, 'the saved state file has its full size');
	return $good;
}

# 1. One flipped bit in the term field: the checksum catches it.
my $good = stop_and_save();
my $flipped = $good;
substr($flipped, 80, 1) = chr(ord(substr($flipped, 80, 1)) ^ 0x01);
spew_bytes($state, $flipped);
my $log_offset = -s $victim->logfile;
check_refused('flipped byte', qr/raft state file "[^"]*" is corrupt/,
	qr/corrupt/);
like(slurp_file($victim->logfile, $log_offset),
	qr/is corrupt.*\n.*DETAIL:.*checksum does not match/,
	'flipped byte: the log names the failed check');
check_restored('flipped byte');

# 2. A truncated file (a torn copy, a full disk at restore time...).
$good = stop_and_save();
spew_bytes($state, substr($good, 0, 50));
check_refused('truncated file', qr/raft state file "[^"]*" is corrupt/,
	qr/corrupt/);
check_restored('truncated file');

# 3. The file is gone but the log shows the node has run before.
stop_and_save();
unlink $state or die "unlink: $!";
check_refused('missing file', qr/raft state file "[^"]*" is missing/,
	qr/missing/);
check_restored('missing file');

# 4. A flipped byte inside the log (the term of entry 1): the record's
# checksum catches it, and the node stops just the same.
my $segment = "$state_dir/log/0000000000000001";
stop_and_save();
ok(-f $segment, 'the follower has a log segment starting at index 1');
my $segment_bytes = RaftTest::slurp_bytes($segment);
my $damaged = $segment_bytes;
substr($damaged, 88 + 12, 1) = chr(ord(substr($damaged, 88 + 12, 1)) ^ 0x01);
spew_bytes($segment, $damaged);
check_refused('flipped log byte', qr/raft log segment "[^"]*" is corrupt/,
	qr/corrupt/);
spew_bytes($segment, $segment_bytes);
check_restored('flipped log byte');

# 5. A torn append (a crash in the middle of writing a record that was never
# fsynced, hence never acknowledged) is not corruption: the partial record is
# cut away with a LOG message and the node rejoins.
$victim->stop;
my @segments = sort glob("$state_dir/log/*");
my $last_segment = $segments[-1];
my $length = -s $last_segment;
open my $fh, '>>:raw', $last_segment or die "open: $!";
print $fh pack('VV', 7, 0xffff);    # a record cut after 8 of its bytes
close $fh;
my $offset = -s $victim->logfile;
$victim->start;
$victim->wait_for_log(
	qr/removing torn record at the end of raft log segment "[^"]*"/, $offset);
pass('torn append: the partial record is removed with a LOG message');
my ($l, $t) = RaftTest::wait_for_leader(\@nodes);
ok(defined $l, 'torn append: the node rejoins the cluster');
is($victim->safe_psql('postgres',
		"SELECT coalesce(error, '') FROM raft_status"),
	'', 'torn append: and reports no error');
cmp_ok(-s $last_segment, '>=', $length,
	'torn append: nothing before the partial record was lost');

$_->stop for @nodes;
done_testing();
