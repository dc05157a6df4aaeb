package rules

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
)

const week = config.MinutesPerWeek

// hours are compiled office hours: the windows as merged spans of
// wall-clock minutes of the week (from Sunday 00:00) in loc.
type hours struct {
	loc   *time.Location
	spans [][2]int // sorted, disjoint, not touching
	ends  []int    // the minutes at which the office closes, ascending, in [0, week)
}

// newHours compiles office hours.
func newHours(o *config.OfficeHours) (*hours, error) {
	loc := o.Location()
	if loc == nil {
		l, err := config.LoadTimeZone(o.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("time_zone %v", err)
		}
		loc = l
	}
	var spans [][2]int
	for i, w := range o.Windows {
		s := w.Spans()
		if len(s) == 0 {
			return nil, fmt.Errorf("windows[%d] has no day", i)
		}
		spans = append(spans, s...)
	}
	if len(spans) == 0 {
		return nil, errors.New("windows: none")
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	merged := [][2]int{spans[0]}
	for _, s := range spans[1:] {
		last := &merged[len(merged)-1]
		if s[0] <= last[1] {
			last[1] = max(last[1], s[1])
			continue
		}
		merged = append(merged, s)
	}
	h := &hours{loc: loc, spans: merged}
	wraps := merged[0][0] == 0 // a span ending at the week's end goes on
	for _, s := range merged {
		if s[1] == week && wraps {
			continue
		}
		h.ends = append(h.ends, s[1]%week)
	}
	slices.Sort(h.ends)
	return h, nil
}

// open reports whether minute m of the week is inside a window.
func (h *hours) open(m int) bool {
	for _, s := range h.spans {
		if m < s[0] {
			return false
		}
		if m < s[1] {
			return true
		}
	}
	return false
}

// closedSince reports whether the office is closed at now and, if so,
// since when (UTC): the wall-clock end of the last window, which every
// instant of the same closed period shares.
func (h *hours) closedSince(now time.Time) (time.Time, bool) {
	if len(h.ends) == 0 {
		return time.Time{}, false // open all week
	}
	local := now.In(h.loc)
	mins := local.Hour()*60 + local.Minute()
	m := int(local.Weekday())*1440 + mins
	if h.open(m) {
		return time.Time{}, false
	}
	end := h.ends[len(h.ends)-1] // last week's, unless one came earlier this week
	for _, x := range h.ends {
		if x <= m {
			end = x
		}
	}
	back := m - end
	if back < 0 {
		back += week
	}
	y, mo, d := local.Date()
	// Wall-clock arithmetic: time.Date normalizes the minutes in the
	// calendar, then applies the zone, so DST changes in between do not
	// move the result.
	return time.Date(y, mo, d, 0, mins-back, 0, 0, h.loc).UTC(), true
}
