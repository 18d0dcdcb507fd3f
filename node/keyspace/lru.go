package keyspace

// LRU and LFU bookkeeping in a value's 24-bit word, as Redis keeps it:
// LRU mode stores a seconds clock; LFU mode stores 16 bits of minutes
// (last decrement time) and an 8-bit logarithmic access counter.

const (
	lruClockMax   = 1<<24 - 1
	lfuInitVal    = 5
	lruResolution = 1000 // ms
)

// LRUClock is the current LRU clock (seconds, wrapping at 24 bits).
func (ks *Keyspace) LRUClock() uint32 {
	return uint32(ks.nowMs/lruResolution) & lruClockMax
}

func (ks *Keyspace) lfuTimeInMinutes() uint32 {
	return uint32(ks.nowMs/1000/60) & 0xffff
}

func (ks *Keyspace) initLRU(v *Value) {
	if ks.Config.LFU {
		v.lru = ks.lfuTimeInMinutes()<<8 | lfuInitVal
		return
	}
	v.lru = ks.LRUClock()
}

func (ks *Keyspace) touch(v *Value) {
	if !ks.Config.LFU {
		v.lru = ks.LRUClock()
		return
	}
	counter := ks.lfuDecr(v.lru)
	counter = ks.lfuLogIncr(counter)
	v.lru = ks.lfuTimeInMinutes()<<8 | counter
}

// lfuDecr applies the time-based decay of the counter.
func (ks *Keyspace) lfuDecr(word uint32) uint32 {
	ldt := word >> 8
	counter := word & 0xff
	if ks.Config.LFUDecayTime <= 0 {
		return counter
	}
	now := ks.lfuTimeInMinutes()
	var elapsed uint32
	if now >= ldt {
		elapsed = now - ldt
	} else {
		elapsed = 65535 - ldt + now
	}
	periods := elapsed / uint32(ks.Config.LFUDecayTime)
	if periods > counter {
		return 0
	}
	return counter - periods
}

func (ks *Keyspace) lfuLogIncr(counter uint32) uint32 {
	if counter == 255 {
		return 255
	}
	r := ks.Rand.Float64()
	base := float64(counter) - lfuInitVal
	if base < 0 {
		base = 0
	}
	p := 1.0 / (base*float64(ks.Config.LFULogFactor) + 1)
	if r < p {
		counter++
	}
	return counter
}

// IdleMs is how long ago the value was last accessed (LRU mode).
func (ks *Keyspace) IdleMs(v *Value) int64 {
	now := ks.LRUClock()
	lru := v.lru & lruClockMax
	var secs uint32
	if now >= lru {
		secs = now - lru
	} else {
		secs = lruClockMax - lru + now
	}
	return int64(secs) * lruResolution
}

// Freq is the value's decayed LFU counter (LFU mode).
func (ks *Keyspace) Freq(v *Value) int { return int(ks.lfuDecr(v.lru)) }

// SetIdle sets the value's LRU idle time (RESTORE IDLETIME).
func (ks *Keyspace) SetIdle(v *Value, idleSecs int64) {
	if ks.Config.LFU {
		return
	}
	c := int64(ks.LRUClock()) - idleSecs
	if c < 0 {
		c += lruClockMax
	}
	v.lru = uint32(c) & lruClockMax
}

// SetFreq sets the value's LFU counter (RESTORE FREQ).
func (ks *Keyspace) SetFreq(v *Value, freq int) {
	if !ks.Config.LFU {
		return
	}
	v.lru = ks.lfuTimeInMinutes()<<8 | uint32(freq&0xff)
}

// EvictionRank scores a sampled value for eviction: higher is a better
// candidate (longer idle in LRU mode, lower frequency in LFU mode).
func (ks *Keyspace) EvictionRank(v *Value) int64 {
	if ks.Config.LFU {
		return 255 - int64(ks.lfuDecr(v.lru))
	}
	return ks.IdleMs(v)
}
