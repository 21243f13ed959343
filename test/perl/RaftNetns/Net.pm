# Copyright: the raft_ext authors.

=pod

=head1 NAME

RaftNetns::Net - the namespace plumbing of RaftNetns: running commands,
checking that namespaces can be made, the router, client and node
namespaces with their veth pairs, and the cuts (policy-routing rules in the
router namespace).

=head1 DESCRIPTION

A RaftNetns cluster is a RaftNetns::Net: the methods below act on its
namespaces ($self->{prefix}, $self->{n}, $self->{namespaces},
$self->{rules}, $self->{faults}); building and running the PostgreSQL side
is RaftNetns's.  The functions are also reachable as RaftNetns::run,
RaftNetns::must, RaftNetns::preflight and RaftNetns::require_netns.

=cut

package RaftNetns::Net;

use strict;
use warnings;

use Carp;
use IPC::Run;
use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);

# Every address lives in $NET.0.0/16; the client namespace is subnet
# $CLIENT_NET, node i subnet i.
our $NET = '10.213';
our $CLIENT_NET = 250;

=pod

=head1 FUNCTIONS

=over

=item RaftNetns::Net::run(\@cmd, %opts)

Run a command (timeout => seconds, default 60; stdin => string).  Returns
(ok, stdout, stderr).

=cut

sub run
{
	my ($cmd, %opts) = @_;
	my ($in, $out, $err) = ($opts{stdin} // '', '', '');
	my $ok = eval {
		IPC::Run::run($cmd, '<', \$in, '>', \$out, '2>', \$err,
			IPC::Run::timeout($opts{timeout} // 60));
	};
	$err .= $@ if $@;
	return ($ok ? 1 : 0, $out, $err);
}

# Run a command; die with its output when it fails.
sub must
{
	my ($cmd, %opts) = @_;
	my ($ok, $out, $err) = run($cmd, %opts);
	croak "command failed: @$cmd\n$out$err" unless $ok;
	return $out;
}

=pod

=item RaftNetns::Net::preflight()

Why this machine cannot run the suite (a sentence), or undef when it can:
root, the ip command, network namespaces, veth pairs and policy rules, a
postgres user, the PostgreSQL binaries.

=cut

sub preflight
{
	return "it must run as root (network namespaces, veth pairs and routing "
	  . "rules need CAP_NET_ADMIN); it runs as uid $>"
	  if $> != 0;
	return 'there is no "postgres" user to run the servers as'
	  unless defined getpwnam('postgres');
	my $bin = RaftNetns::bindir();
	return "no PostgreSQL binaries (pg_config --bindir gave '$bin')"
	  unless $bin ne '' && -x "$bin/postgres";
	my ($ok, $out, $err) = run([ 'ip', '-V' ], timeout => 10);
	return "the ip command (iproute2) is missing: $err" unless $ok;

	my $ns = "rx${$}pre";
	my @steps = (
		[ 'ip', 'netns', 'add', "$ns-a" ],
		[ 'ip', 'netns', 'add', "$ns-b" ],
		[ 'ip', 'link', 'add', 'eth0', 'netns', "$ns-a", 'type', 'veth',
		  'peer', 'name', 'eth0', 'netns', "$ns-b" ],
		[ 'ip', '-n', "$ns-a", 'rule', 'add', 'from', "$NET.1.2",
		  'to', "$NET.2.2", 'blackhole', 'priority', '100' ],
		[ 'ip', 'netns', 'exec', "$ns-a", 'sysctl', '-q', '-w',
		  'net.ipv4.ip_forward=1' ]);
	my $why;
	for my $step (@steps)
	{
		($ok, $out, $err) = run($step, timeout => 10);
		next if $ok;
		$why = "'@$step' failed: $err";
		$why =~ s/\s+$//;
		last;
	}
	run([ 'ip', 'netns', 'del', $_ ], timeout => 10) for ("$ns-a", "$ns-b");
	return $why;
}

=pod

=item RaftNetns::Net::require_netns()

preflight(), and when it finds a reason: print it, fail the test and exit
(the suite never passes by skipping).

=cut

sub require_netns
{
	my $why = preflight();
	return unless defined $why;
	diag("the network partition suite cannot run: $why");
	fail("network namespaces are usable: $why");
	done_testing();
	exit 1;
}

=back

=head1 METHODS

=over

=cut

# Namespaces: a router, a client, and one per node, each wired to the router.
sub _network
{
	my ($self) = @_;
	my $r = $self->router;
	$self->_add_ns($r);
	must([ 'ip', 'netns', 'exec', $r, 'sysctl', '-q', '-w',
		   'net.ipv4.ip_forward=1' ]);
	$self->_wire($self->client_ns, $CLIENT_NET);
	$self->_wire("$self->{prefix}-n$_", $_) for 1 .. $self->{n};
	return;
}

sub _add_ns
{
	my ($self, $ns) = @_;
	must([ 'ip', 'netns', 'add', $ns ]);
	push @{ $self->{namespaces} }, $ns;
	must([ 'ip', '-n', $ns, 'link', 'set', 'lo', 'up' ]);
	return;
}

# One namespace on subnet $net: a veth pair to the router.
sub _wire
{
	my ($self, $ns, $net) = @_;
	my $r = $self->router;
	$self->_add_ns($ns);
	must([ 'ip', 'link', 'add', 'eth0', 'netns', $ns, 'type', 'veth',
		   'peer', 'name', "v$net", 'netns', $r ]);
	must([ 'ip', '-n', $ns, 'addr', 'add', "$NET.$net.2/24", 'dev', 'eth0' ]);
	must([ 'ip', '-n', $ns, 'link', 'set', 'eth0', 'up' ]);
	must([ 'ip', '-n', $ns, 'route', 'add', 'default', 'via', "$NET.$net.1" ]);
	must([ 'ip', '-n', $r, 'addr', 'add', "$NET.$net.1/24", 'dev', "v$net" ]);
	must([ 'ip', '-n', $r, 'link', 'set', "v$net", 'up' ]);
	return;
}

=pod

=item $c->router / $c->client_ns

Names of the router and client namespaces.

=cut

sub router { return "$_[0]{prefix}-r"; }
sub client_ns { return "$_[0]{prefix}-c"; }

=pod

=item $c->in_client(@cmd)

The command line that runs @cmd in the client namespace.

=cut

sub in_client
{
	my ($self, @cmd) = @_;
	return ('ip', 'netns', 'exec', $self->client_ns, @cmd);
}

=pod

=item $c->cut(\@edges [, $what]) / partition(\@g1, \@g2, ...) / isolate($node) / one_way($from, \@to) / heal

Replace the cuts in place by the directed links [from, to] of @edges (nodes
or raft ids): the router drops every packet from the first node's address
to the second's.  partition cuts both ways between nodes of different
groups (nodes in no group keep their links: a bridge); isolate cuts one
node from every other node (never from the client); one_way cuts the
links from $from to each of @to only.  heal removes every cut.  Each call
but heal is one fault: counted, timed and logged.  Returns the fault's time
(epoch seconds, taken once the rules are in place).

=cut

sub cut
{
	my ($self, $edges, $what) = @_;
	$self->_clear_rules;
	my @rules;
	for my $e (@$edges)
	{
		my ($from, $to) = map { ref $_ ? $_ : $self->node($_) } @$e;
		push @rules, [ 'from', $from->{addr}, 'to', $to->{addr}, 'blackhole',
			'priority', 100 ];
	}
	# One ip process for all of them: a partition takes effect at once,
	# not link by link (one process per rule took seconds on a loaded
	# machine, and nodes on the cut's far side learned the other side's
	# new term through links not cut yet: netns 206).
	$self->_ip_batch(map { join(' ', 'rule', 'add', @$_) } @rules);
	push @{ $self->{rules} }, @rules;
	my $at = time();
	$what //= 'cut ' . join(' ', map { _id($_->[0]) . '->' . _id($_->[1]) } @$edges);
	push @{ $self->{faults} },
	  {
		type => 'fault',
		t => $at * 1000,
		what => $what,
		edges => [ map { [ _id($_->[0]), _id($_->[1]) ] } @$edges ]
	  };
	$self->{fault_counter}->record_fault("real partition: $what");
	return $at;
}

sub _id { return ref $_[0] ? $_[0]{raft_id} : $_[0]; }

sub partition
{
	my ($self, @groups) = @_;
	my (%g, @edges);
	for my $i (0 .. $#groups)
	{
		$g{ _id($_) } = $i for @{ $groups[$i] };
	}
	for my $a (sort keys %g)
	{
		push @edges, map { [ $a, $_ ] } grep { $g{$_} != $g{$a} } sort keys %g;
	}
	return $self->cut(\@edges,
		'partition ' . join(' | ', map { join(',', sort map { _id($_) } @$_) } @groups));
}

sub isolate
{
	my ($self, $node) = @_;
	my @rest = grep { $_->{raft_id} != _id($node) } $self->nodes;
	return $self->partition([$node], \@rest);
}

sub one_way
{
	my ($self, $from, $to) = @_;
	my @edges = map { [ $from, $_ ] } @$to;
	return $self->cut(\@edges,
		'one-way ' . _id($from) . ' -> ' . join(',', map { _id($_) } @$to));
}

sub heal
{
	my ($self) = @_;
	$self->_clear_rules;
	push @{ $self->{faults} }, { type => 'heal', t => time() * 1000 };
	note('healed: every cut removed');
	return time();
}

sub _clear_rules
{
	my ($self) = @_;
	my @rules = @{ $self->{rules} };
	$self->{rules} = [];
	return unless @rules;
	# -force: go on past a rule already gone
	run([ 'ip', '-n', $self->router, '-force', '-batch', '-' ],
		stdin => join('', map { join(' ', 'rule', 'del', @$_) . "\n" } @rules),
		timeout => 10);
	return;
}

# Run ip commands (one per element, without "ip") in the router, in one go.
sub _ip_batch
{
	my ($self, @commands) = @_;
	return unless @commands;
	must([ 'ip', '-n', $self->router, '-batch', '-' ],
		stdin => join('', map { "$_\n" } @commands), timeout => 10);
	return;
}

=pod

=item $c->faults

The fault log: hashes { type => 'fault' | 'heal', t (epoch ms), what, edges }.

=item $c->fault_count

Faults (cuts) injected into this cluster.

=cut

sub faults { return @{ $_[0]{faults} }; }
sub fault_count { return scalar grep { $_->{type} eq 'fault' } @{ $_[0]{faults} }; }


=pod

=back

=cut

1;
