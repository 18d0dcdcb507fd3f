//go:build !race

package failover

// raceBuild is set under -race (see race_test.go).
const raceBuild = false
