// Package events is Pulse's wire contract: the Event, how it is validated, how it is laid out in
// a stream entry, how it is partitioned, and the names of every Redis key and channel the roles
// share. Every role depends on it; it depends on nothing of Pulse.
package events
