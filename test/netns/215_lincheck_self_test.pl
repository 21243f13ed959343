# Copyright: the raft_ext authors.

# The linearizability checker (test/lincheck/lincheck.c, through RaftLin)
# judges hand-made register histories correctly: a linearizable concurrent
# history, a stale read, a lost write, a compare-and-set on a stale value,
# indeterminate operations that did and did not take effect, reads going
# back in time across two clients; it stops at its search budget with
# "unknown", explains a violation, checks tens of thousands of operations,
# and RaftLin::without_lost_branch tells an asynchronous lost write from a
# stale read.  Needs no namespace and no cluster (it runs with the
# partition suite whose scenarios 216-218 use the checker).
#
# History lines: client op key arg arg2 invoke_ns complete_ns outcome result.

use strict;
use warnings;

use File::Temp qw(tempdir);
use PostgreSQL::Test::Utils;
use RaftLin;
use Test::More;

my $dir = tempdir(CLEANUP => 1);
my $n = 0;

# Write a history to a file; returns its name.
sub history
{
	my ($text) = @_;
	my $file = "$dir/h" . ++$n;
	open(my $fh, '>', $file) or die "open $file: $!";
	print $fh $text;
	close $fh;
	return $file;
}

# Check a history; assert its verdict (and stale reads when given).
sub judged
{
	my ($name, $verdict, $text, $stale) = @_;
	my $r = RaftLin::check(history($text));
	is($r->{verdict}, $verdict, "$name: $verdict")
	  or diag($r->{output});
	is($r->{stale_reads}, $stale, "$name: $stale definitely stale reads")
	  if defined $stale;
	return $r;
}

judged('a linearizable concurrent history on two keys', 'linearizable', <<'H', 0);
a w x 1 - 0 10 ok -
b r x - - 2 4 ok nil
b r x - - 5 15 ok 1
c w x 2 - 12 30 ok -
a r x - - 20 25 ok 1
b r x - - 26 40 ok 2
a c x 2 3 31 35 ok 1
b r x - - 41 42 ok 3
c c x 2 9 43 44 ok 0
d w y 5 - 0 100 ok -
e r y - - 1 2 ok nil
e r y - - 50 60 ok 5
e r y - - 70 80 ok 5
H

my $stale = judged('a stale read', 'violation', <<'H', 1);
a w x 1 - 0 10 ok -
a w x 2 - 20 30 ok -
b r x - - 40 50 ok 1
H
like($stale->{output}, qr/no order of the ops still open fits this one.*\n\s+b read -> 1 .*\(line 3\)/,
	'a stale read: the explanation names the read that fits nowhere');
like($stale->{output}, qr/a write 2 .*\n\s+then the register holds 2/,
	'a stale read: and the write it missed');

judged('a lost write (acknowledged, never visible, a later read returns the older value)',
	'violation', <<'H', 2);
a w x 1 - 0 10 ok -
b r x - - 12 14 ok 1
a w x 2 - 20 30 ok -
c r x - - 40 50 ok 1
d r x - - 60 70 ok 1
H

judged('a compare-and-set that succeeded on a stale value', 'violation', <<'H', 1);
a w x 1 - 0 10 ok -
b w x 2 - 20 30 ok -
c c x 1 3 40 50 ok 1
H

judged('an indeterminate write that took effect', 'linearizable', <<'H');
a w x 1 - 0 10 ok -
b w x 2 - 20 - info -
c r x - - 40 50 ok 2
c r x - - 60 70 ok 2
H

judged('an indeterminate write that did not take effect', 'linearizable', <<'H');
a w x 1 - 0 10 ok -
b w x 2 - 20 - info -
c r x - - 40 50 ok 1
c r x - - 60 70 ok 1
H

judged('an indeterminate write seen, then unseen', 'violation', <<'H');
a w x 1 - 0 10 ok -
b w x 2 - 20 - info -
c r x - - 40 50 ok 2
c r x - - 60 70 ok 1
H

judged('an indeterminate write seen before it was invoked', 'violation', <<'H');
a w x 1 - 0 10 ok -
c r x - - 12 15 ok 2
b w x 2 - 20 - info -
H

judged('an indeterminate compare-and-set that took effect', 'linearizable', <<'H');
a w x 1 - 0 10 ok -
b c x 1 5 20 - info -
c r x - - 30 40 ok 5
H

judged('an indeterminate compare-and-set whose expected value had gone', 'violation', <<'H');
a w x 1 - 0 10 ok -
a w x 2 - 12 15 ok -
b c x 1 5 20 - info -
c r x - - 30 40 ok 5
H

judged('reads going back in time across two clients', 'violation', <<'H', 0);
a w x 1 - 0 10 ok -
b w x 2 - 20 100 ok -
c r x - - 30 40 ok 2
d r x - - 50 60 ok 1
H

judged('a failed write is dropped', 'linearizable', <<'H');
a w x 7 - 0 10 fail -
b r x - - 20 30 ok nil
c r x - - 40 - info -
H

judged('a failed write that was read', 'violation', <<'H');
a w x 7 - 0 10 fail -
b r x - - 20 30 ok 7
H

# Bad input is refused, not judged.
ok(!eval { RaftLin::check(history("a x x 1 - 0 10 ok -\n")); 1 }
	  && $@ =~ /op must be r, w or c/,
	'bad input: an unknown op is refused');

# A budget: twenty indeterminate writes that every read could have seen,
# then a read of a value nobody wrote; the search gives up.
{
	my $h = '';
	$h .= "w$_ w x $_ - 0 - info -\n" for 1 .. 20;
	$h .= sprintf("r r x - - %d %d ok %d\n", 100 + 10 * $_, 105 + 10 * $_, $_) for 1 .. 20;
	$h .= "r r x - - 400 410 ok 999\n";
	my $r = RaftLin::check(history($h), budget => 10_000);
	is($r->{verdict}, 'unknown', 'a search over its budget says unknown');
	is($r->{exit}, 2, 'unknown: exit status 2');
}

# Tens of thousands of operations: six clients on three keys, each op
# linearized at a random point of its interval; some writes indeterminate
# (half of them took effect).  Then the same with one read made stale.
sub generated
{
	my ($seed, $bad) = @_;
	srand($seed);
	my (@ops, %value, $uniq);
	for my $c (1 .. 6)
	{
		my $t = 0;
		for (1 .. 5000)
		{
			my $inv = $t + 1 + int(rand(1000));
			my $dur = 100 + int(rand(5000));
			push @ops, [ $inv + int(rand($dur)), "c$c", $inv, $inv + $dur ];
			$t = $inv + $dur;
		}
	}
	my @lines;
	for my $o (sort { $a->[0] <=> $b->[0] } @ops)
	{
		my (undef, $c, $inv, $comp) = @$o;
		my $k = 'k' . int(rand(3));
		my $dice = rand();
		my $cur = $value{$k};
		if ($dice < 0.5)
		{
			push @lines, "$c r $k - - $inv $comp ok " . ($cur // 'nil');
		}
		elsif ($dice < 0.8 || !defined $cur)
		{
			my $v = ++$uniq;
			if (rand() < 0.003)
			{
				push @lines, "$c w $k $v - $inv - info -";
				$value{$k} = $v if rand() < 0.5;
				next;
			}
			$value{$k} = $v;
			push @lines, "$c w $k $v - $inv $comp ok -";
		}
		else
		{
			my $exp = rand() < 0.7 ? $cur : $cur + 1_000_000;
			my $v = ++$uniq;
			my $swapped = $exp == $cur ? 1 : 0;
			$value{$k} = $v if $swapped;
			push @lines, "$c c $k $exp $v $inv $comp ok $swapped";
		}
	}
	if ($bad)
	{
		my @reads = grep { $lines[$_] =~ / r k0 .* ok (\d+)$/ && $1 > 1 } 0 .. $#lines;
		my $i = $reads[ int(@reads / 2) ];
		$lines[$i] =~ s/ ok (\d+)$/' ok ' . 1/e;
	}
	return join("\n", @lines) . "\n";
}
my $big = judged('30,000 generated operations', 'linearizable', generated(7, 0));
is($big->{ops}, 30_000, 'all 30,000 operations checked');
judged('30,000 generated operations with one read made stale', 'violation', generated(7, 1));

# Lost write or stale read (RaftLin::without_lost_branch).  Node 1 is the
# primary; its write x=2 is acknowledged, read back on node 1, and lost:
# node 2, the new primary, first reads x=1, then writes x=3.
my $async = <<'H';
a w x 1 - 0 10 ok 1 node=1
a w x 2 - 20 30 ok 1 node=1
b r x - - 35 40 ok 2 node=1
c r x - - 45 48 ok 1 node=2
c w x 3 - 50 60 ok 1 node=2
c r x - - 62 64 ok 3 node=2
d w x 4 - 33 - info - node=- host=10.213.1.2
H
my %survived = ('x 1' => 1, 'x 3' => 1);
my %host = ('10.213.1.2' => 1, '10.213.2.2' => 2);
sub without_lost
{
	my ($text) = @_;
	my ($ops) = RaftLin::parse(history($text));
	my ($kept, $counts) = RaftLin::without_lost_branch($ops, \%survived, \%host);
	my $file = "$dir/h" . ++$n;
	RaftLin::write_ops($file, $kept);
	return (RaftLin::check($file), $counts);
}
judged('an asynchronous lost write, as recorded', 'violation', $async);
my ($r, $counts) = without_lost($async);
is($r->{verdict}, 'linearizable', 'the lost write explains it: linearizable without the lost branch');
is_deeply($counts, { lost_acked => 1, lost_observed => 0, removed => 3 },
	'one acknowledged write lost; it, the read of it and an indeterminate write of node 1 set aside');
($r) = without_lost($async . "b r x - - 70 75 ok 2 node=1\n");
is($r->{verdict}, 'violation',
	'the old primary reads its lost write after the new primary took over: still a violation');
is($r->{unwritten_reads}, 1, 'counted as a read of a value no kept write wrote');
($r) = without_lost($async . "e r x - - 70 75 ok 1 node=1\n");
is($r->{verdict}, 'violation',
	'the old primary reads an overwritten value after the new primary took over: a stale read');
is($r->{stale_reads}, 1, 'counted as a definitely stale read');
# A read on the old primary that began before the lost write and returned
# its value (the two overlapped), before the new primary took over: part of
# the lost branch, set aside with it (netns 217 once called it a read of a
# value nobody wrote).
($r, $counts) = without_lost($async . "f r x - - 18 26 ok 2 node=1\n");
is($r->{verdict}, 'linearizable',
	'a read overlapping the lost write on its node, before the takeover, goes with the lost branch');
is($counts->{removed}, 4, 'set aside with it');

done_testing();
