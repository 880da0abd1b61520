//go:build race

package authorizer

// raceAllocs is how many more allocations a call makes in a race-enabled build.
const raceAllocs = 1
