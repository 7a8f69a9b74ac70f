package suite

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// caseOutputBytes bounds the backend output kept with each result (its
// last bytes): the whole run's output stays in Report.TargetOutput.
const caseOutputBytes = 16 << 10

// outputQuiet and outputSettleMax bound the wait, at a case's end, for the
// backend's last log lines: a backend usually logs a request after it has
// answered it, so its line reaches the pipe a moment after the harness has
// the answer, and would otherwise be shown under the next case.
const (
	outputQuiet     = 5 * time.Millisecond
	outputSettleMax = 50 * time.Millisecond
)

// outputMark is the position in the backend's output stream (bytes ever
// written) when a case began.
func (s *Session) outputMark() int64 { return s.out.total() }

// caseOutput is what a started backend wrote since mark, once its output
// has been quiet for a moment: the output the case caused, redacted and
// bounded. Without a started backend it is empty and costs no wait.
func (s *Session) caseOutput(mark int64) string {
	if s.backend() == nil {
		return ""
	}
	end := s.out.waitQuiet(context.Background(), outputQuiet, outputSettleMax)
	return s.redact(s.out.between(mark, end, caseOutputBytes))
}

// waitQuiet waits until nothing has been written for one poll interval,
// at most for max or until ctx ends, and returns total() then: a backend
// usually logs a request after it has answered it.
func (b *tailBuffer) waitQuiet(ctx context.Context, poll, max time.Duration) int64 {
	pause := b.pause
	if pause == nil {
		pause = time.Sleep
	}
	end := b.total()
	for deadline := time.Now().Add(max); time.Now().Before(deadline) && ctx.Err() == nil; {
		pause(poll)
		n := b.total()
		if n == end {
			break
		}
		end = n
	}
	return end
}

// between returns the bytes written from offset from to offset to (both
// total() readings), as much of them as the buffer still holds, at most
// the last maxBytes, with a note of what is missing.
func (b *tailBuffer) between(from, to int64, maxBytes int) string {
	b.mu.Lock()
	held := b.bytes()
	first := b.written - int64(len(held)) // offset of held[0]
	b.mu.Unlock()
	if to > first+int64(len(held)) {
		to = first + int64(len(held))
	}
	var lost int64
	if from < first {
		lost, from = first-from, first
	}
	if to <= from {
		if lost > 0 {
			return fmt.Sprintf("[%d bytes no longer held]", lost)
		}
		return ""
	}
	seg := held[from-first : to-first]
	if len(seg) > maxBytes {
		lost += int64(len(seg) - maxBytes)
		seg = seg[len(seg)-maxBytes:]
	}
	s := strings.ToValidUTF8(string(seg), "\uFFFD")
	if lost > 0 {
		s = fmt.Sprintf("[%d earlier bytes of this case dropped]\n%s", lost, s)
	}
	return s
}
