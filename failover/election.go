package failover

// Leader election, as Redis Sentinel runs it: a sentinel that sees the
// master objectively down increments the epoch, votes for itself and asks
// the others (SENTINEL IS-MASTER-DOWN-BY-ADDR ... <epoch> <its run id>).
// Each sentinel votes at most once per epoch; the vote is persisted before
// it is answered. A candidate is leader for an epoch with the votes of a
// majority of the known sentinels and at least quorum. Vigil adds one
// rule (for the master lease, see the README): a sentinel votes for
// another only while it sees the master subjectively down itself.

// Ballot is one sentinel's voting state for one master group. Whatever
// changes it must be durable before a reply based on it is sent.
type Ballot struct {
	// Epoch is the highest epoch this sentinel has seen (Redis keeps one
	// current epoch for all groups; the caller may share it).
	Epoch uint64
	// Leader is who this sentinel voted for in LeaderEpoch.
	Leader      string
	LeaderEpoch uint64
}

// Vote answers a vote request for epoch from candidate. seesDown is
// whether the voter sees the master subjectively down. It returns the
// vote to reply with (which may be an earlier vote, or none) and whether
// the ballot changed.
func (b *Ballot) Vote(epoch uint64, candidate string, seesDown bool) (leader string, leaderEpoch uint64, changed bool) {
	if epoch > b.Epoch {
		b.Epoch = epoch
		changed = true
	}
	if b.LeaderEpoch < epoch && b.Epoch <= epoch && seesDown {
		b.Leader, b.LeaderEpoch = candidate, b.Epoch
		changed = true
	}
	return b.Leader, b.LeaderEpoch, changed
}

// StartElection moves to a new epoch with a vote for self and returns
// the epoch to ask the others for.
func (b *Ballot) StartElection(self string) uint64 {
	b.Epoch++
	b.Leader, b.LeaderEpoch = self, b.Epoch
	return b.Epoch
}

// Tally counts the votes received for epoch (voter -> candidate, the
// counting sentinel's own vote included) among voters known sentinels
// (alive or not: a partition must not shrink the electorate). It returns
// the candidate with a majority and at least quorum votes, if any.
func Tally(votes map[string]string, voters, quorum int) (string, bool) {
	best, bestN := "", 0
	for c, n := range countVotes(votes) {
		if n > bestN || (n == bestN && c < best) {
			best, bestN = c, n
		}
	}
	return best, best != "" && bestN >= votesNeeded(voters, quorum)
}

// votesNeeded is what a candidate needs to be leader among voters known
// sentinels: a majority, and at least quorum.
func votesNeeded(voters, quorum int) int { return max(quorum, voters/2+1) }

// countVotes counts each candidate's votes (an answer without a vote, "",
// is none).
func countVotes(votes map[string]string) map[string]int {
	count := map[string]int{}
	for _, c := range votes {
		if c != "" {
			count[c]++
		}
	}
	return count
}
