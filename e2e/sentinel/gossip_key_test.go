package sentinel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilkv/vigil/deploy/proc"
	"github.com/vigilkv/vigil/internal/testutil"
)

// TestGossipKeys: sentinels with a gossip key do not hear one with
// another key (nor it them); a SIGHUP that gives it their key joins it;
// and the three rotate to a new key in three reloads without losing each
// other.
func TestGossipKeys(t *testing.T) {
	ctx := context.Background()
	master := testutil.StartVigil(t)
	newKey := func() string {
		k := make([]byte, 32)
		rand.Read(k)
		return base64.StdEncoding.EncodeToString(k)
	}
	k1, k2 := newKey(), newKey()
	yaml, write := sentinelYAML(t, 3)
	setKeys := func(i int, keys string) { write(i, "gossip-key: "+keys+"\n") }
	setKeys(0, k1)
	setKeys(1, k1)
	setKeys(2, k2)
	sents := testutil.StartSentinelsEach(t, 3, func(i int) []string {
		return []string{"--config", yaml(i), "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port),
			"--down-after-milliseconds", "5000"}
	})
	gw := watchGossip(t, sents...)
	waitAlive := func(what string, want ...string) {
		t.Helper()
		gw.wait(20*time.Second, what, "sentinel_gossip_alive", want...)
	}
	waitAlive("the two sentinels with one key to find each other", "2", "2", "1")
	// Past a few rejoin periods the third is still alone: it keeps trying
	// its seeds, and they keep refusing what it sends.
	time.Sleep(5 * time.Second)
	if got := gw.alive(); !is(got, "2", "2", "1") {
		t.Fatalf("gossip_alive %v: the sentinel with another key got in", got)
	}
	peers, err := gw.clients[0].Do(ctx, "SENTINEL", "SENTINELS", "mymaster").Slice()
	if err != nil || len(peers) != 1 {
		t.Fatalf("SENTINEL SENTINELS: %v %v: want only the sentinel with the same key", peers, err)
	}
	if got := gw.field("sentinel_gossip_encrypted")[0]; got != "1" {
		t.Errorf("sentinel_gossip_encrypted:%s", got)
	}

	reloads := make([]int, len(sents))
	reload := func(keys string, which ...int) {
		t.Helper()
		for _, i := range which {
			setKeys(i, keys)
			reloads[i]++
			if err := syscall.Kill(sents[i].Pid, syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		for _, i := range which {
			testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("sentinel %d to reload its keys", i), func() (bool, string) {
				n := strings.Count(sents[i].Log(), "gossip keys reloaded")
				return n == reloads[i], fmt.Sprint(n, " reloads logged")
			})
		}
	}
	// The third takes the others' key as its first: it speaks theirs
	// and still understands its own.
	reload(k1+","+k2, 2)
	waitAlive("the third sentinel to join once it has the key", "3", "3", "3")
	// Rotation to k2: everyone learns it, then uses it, then drops k1.
	reload(k1+","+k2, 0, 1)
	reload(k2+","+k1, 0, 1, 2)
	reload(k2, 0, 1, 2)
	// memberlist would mark a peer it cannot understand suspect, then
	// dead, within a few probe intervals (500 ms each).
	time.Sleep(4 * time.Second)
	waitAlive("the sentinels to still hear each other after the rotation", "3", "3", "3")
	for i, s := range sents {
		if strings.Contains(s.Log(), "left the gossip") {
			t.Errorf("sentinel %d lost a peer during the rotation:\n%s", i, s.Log())
		}
	}
	// A key that is not one (a typo in the file) changes nothing: the
	// reload is refused and the sentinel keeps its key and its peers.
	setKeys(0, "not-a-key")
	if err := syscall.Kill(sents[0].Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the bad key's reload to be refused", func() (bool, string) {
		return strings.Contains(sents[0].Log(), "config reload on SIGHUP failed"), "no refusal logged"
	})
	time.Sleep(2 * time.Second)
	if got := gw.alive(); !is(got, "3") {
		t.Errorf("gossip_alive %v after a bad key's reload", got)
	}
}

// TestGossipKeyTurnedOn: sentinels gossiping in the clear turn
// encryption on by SIGHUP, without a restart, and go on hearing each
// other.
func TestGossipKeyTurnedOn(t *testing.T) {
	master := testutil.StartVigil(t)
	yaml, write := sentinelYAML(t, 2)
	for i := 0; i < 2; i++ {
		write(i, "loglevel: notice\n")
	}
	sents := testutil.StartSentinelsEach(t, 2, func(i int) []string {
		return []string{"--config", yaml(i), "--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port)}
	})
	gw := watchGossip(t, sents...)
	gw.wait(20*time.Second, "the sentinels to hear each other", "sentinel_gossip_alive", "2")
	key := make([]byte, 32)
	rand.Read(key)
	for i, s := range sents {
		write(i, "loglevel: notice\ngossip-key: "+base64.StdEncoding.EncodeToString(key)+"\n")
		if err := syscall.Kill(s.Pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	gw.wait(10*time.Second, "the sentinels to encrypt", "sentinel_gossip_encrypted", "1")
	// A sentinel without the key, joining them now, is not heard; past
	// several probe rounds the two still hear each other.
	var seeds []string
	for _, s := range sents {
		seeds = append(seeds, "127.0.0.1:"+s.Spec.Args[argAfter(s.Spec.Args, "--gossip-port")])
	}
	plainDir := t.TempDir()
	gossip, err := proc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	plain := testutil.StartProcess(t, proc.Spec{Name: "vigil-sentinel-plain", Path: testutil.SentinelBinary(t),
		Args: []string{"--bind", "127.0.0.1", "--dir", plainDir, "--gossip-port", strconv.Itoa(gossip), "--join", strings.Join(seeds, ","),
			"--monitor", fmt.Sprintf("mymaster 127.0.0.1 %d 2", master.Port)},
		Dir: plainDir, LogPath: filepath.Join(plainDir, "sentinel.log")})
	time.Sleep(4 * time.Second)
	for i, s := range sents {
		if v := gw.alive()[i]; v != "2" {
			t.Errorf("sentinel %d: gossip_alive %s after the key, want 2", i, v)
		}
		if strings.Contains(s.Log(), "left the gossip") {
			t.Errorf("sentinel %d lost its peer when the key came:\n%s", i, s.Log())
		}
	}
	if v := watchGossip(t, plain).alive()[0]; v != "1" {
		t.Errorf("the sentinel without the key: gossip_alive %s, want 1", v)
	}
}
