// Command vigil-sentinel watches vigil (or Redis) data nodes and fails the
// master role over to the best replica. This is a placeholder until the
// sentinel lands: it only reports that it is not available yet.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "vigil-sentinel: not implemented yet; see the README's roadmap")
	os.Exit(2)
}
