// Package storagetest is the conformance suite for storage.Provider implementations. Every
// provider runs it, in process and through the plugin boundary:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Provider { return newConfiguredProvider(t) })
//	}
//
// The suite starts goroutines only inside the subtest that races appenders, and waits for them.
package storagetest
