// Package scheduler is the pure policy of tlsched: per-DC queues, the
// coalescing window, container and in-flight caps, ordered chains
// (invokeAfterMsg), flood gates, retries with backoff, and DC migration. It
// owns no goroutines and reads no clock: every entry point takes now, and
// NextDeadline says when to call Ready again. The scheduler actor drives it.

package scheduler
