//! What the API and the dashboard need of the past, kept beside the
//! latest snapshot: a few earlier snapshots to take rates over a window
//! against, the traffic totals of the last hour for the throughput chart,
//! and the recent alert events. The collector records into it when it
//! publishes (a few pointer and counter copies); readers copy out what
//! they need under its own lock, never the snapshot's.

use super::snapshot::{Count, Snapshot};
use crate::detect::{AlertEvent, Event};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// The windows rates are taken over, in seconds.
pub const WINDOWS: [u64; 2] = [60, 300];
/// How long the throughput chart reaches back, in seconds.
pub const TIMELINE_SECONDS: u64 = 3600;
/// Points of the throughput chart are at least this far apart (ns).
const TIMELINE_STEP_NS: u64 = 1_000_000_000;

const SEC: u64 = 1_000_000_000;
/// A replay served over HTTP hands over at least this often in capture
/// time, so the history has samples of the capture's time (ns).
pub const SAMPLE_STEP_NS: u64 = 10 * SEC;

/// Traffic totals at one time: per class (in [`crate::netset::Class::ALL`]
/// order) and IP version, everything counted up to `at_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Point {
    pub at_ns: u64,
    pub traffic: [[Count; 2]; 4],
}

/// An alert event with its place in the history.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub seq: u64,
    pub event: AlertEvent,
}

#[derive(Debug, Default)]
pub struct History {
    /// Snapshots kept to take rates against, oldest first: at most one per
    /// slot of [`slot`], so about ten whatever the refresh.
    samples: VecDeque<Arc<Snapshot>>,
    timeline: VecDeque<Point>,
    events: VecDeque<Recorded>,
    /// The latest event of each active alert, by alert id.
    active: BTreeMap<u64, AlertEvent>,
    next_seq: u64,
}

/// The slot a sample `age_ns` old at `at_ns` belongs to: 20 s slots for
/// the last 80 s (the 1-minute window finds a base 60 to 80 s back), 100 s
/// slots up to 400 s (the 5-minute window: 300 to 400 s back); older
/// samples are not kept.
fn slot(at_ns: u64, age_ns: u64) -> Option<(u8, u64)> {
    if age_ns < 80 * SEC {
        Some((0, at_ns / (20 * SEC)))
    } else if age_ns < 400 * SEC {
        Some((1, at_ns / (100 * SEC)))
    } else {
        None
    }
}

impl History {
    /// Keeps `s` as a sample, in place of any at or after its time (a
    /// replay's last sample is as of its last packet, which comes before
    /// the boundary sampled last), and thins the older ones to one per
    /// slot.
    pub fn sample(&mut self, s: Arc<Snapshot>) {
        while self.samples.back().is_some_and(|b| b.at_ns >= s.at_ns) {
            self.samples.pop_back();
        }
        let now = s.at_ns;
        self.samples.push_back(s);
        // keep the oldest sample of each slot, and the newest always
        let last = self.samples.len() - 1;
        let mut prev: Option<(u8, u64)> = None;
        let mut i = 0;
        self.samples.retain(|x| {
            let keep = if i == last {
                true
            } else {
                match slot(x.at_ns, now - x.at_ns) {
                    None => false,
                    Some(k) if Some(k) == prev => false,
                    Some(k) => {
                        prev = Some(k);
                        true
                    }
                }
            };
            i += 1;
            keep
        });
    }

    /// The sample to take rates against over `window_s` seconds back from
    /// `now_ns`: the newest at least that old, else the oldest kept.
    pub fn base(&self, now_ns: u64, window_s: u64) -> Option<Arc<Snapshot>> {
        let edge = now_ns.saturating_sub(window_s * SEC);
        self.samples
            .iter()
            .rev()
            .find(|s| s.at_ns <= edge)
            .or(self.samples.front())
            .cloned()
    }

    /// Records the totals at `at_ns` for the throughput chart: in place
    /// of any points at or after its time (as [`History::sample`]), else
    /// at least a step after the last one.
    pub fn point(&mut self, p: Point) {
        let mut replaced = false;
        while self.timeline.back().is_some_and(|b| b.at_ns >= p.at_ns) {
            self.timeline.pop_back();
            replaced = true;
        }
        if !replaced
            && self
                .timeline
                .back()
                .is_some_and(|b| p.at_ns < b.at_ns + TIMELINE_STEP_NS)
        {
            return;
        }
        self.timeline.push_back(p);
        let edge = p.at_ns.saturating_sub(TIMELINE_SECONDS * SEC);
        while self.timeline.front().is_some_and(|f| f.at_ns < edge) {
            self.timeline.pop_front();
        }
    }

    pub fn timeline(&self) -> Vec<Point> {
        self.timeline.iter().copied().collect()
    }

    /// Adds alert events, keeping the last `cap`.
    pub fn events(&mut self, events: &[AlertEvent], cap: usize) {
        for e in events {
            match e.event {
                Event::End => {
                    self.active.remove(&e.id);
                }
                Event::Start | Event::Update => {
                    self.active.insert(e.id, e.clone());
                }
            }
            self.next_seq += 1;
            self.events.push_back(Recorded {
                seq: self.next_seq,
                event: e.clone(),
            });
        }
        while self.events.len() > cap {
            self.events.pop_front();
        }
    }

    /// Events after `since` (a `seq`), at most `n`, oldest first; and the
    /// sequence number of the newest event recorded.
    pub fn events_since(&self, since: u64, n: usize) -> (Vec<Recorded>, u64) {
        let start = self.events.partition_point(|r| r.seq <= since);
        let list = self.events.iter().skip(start).take(n).cloned().collect();
        (list, self.next_seq)
    }

    /// The latest event of each active alert of `ip`, by id.
    pub fn active_of(&self, ip: std::net::IpAddr) -> Vec<AlertEvent> {
        self.active
            .values()
            .filter(|e| e.ip == ip)
            .cloned()
            .collect()
    }

    /// The latest event of each of the `n` newest active alerts, by id.
    pub fn active(&self, n: usize) -> Vec<AlertEvent> {
        let skip = self.active.len().saturating_sub(n);
        self.active.values().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(at_s: u64) -> Arc<Snapshot> {
        let mut s = Snapshot::empty(1);
        s.at_ns = at_s * SEC;
        Arc::new(s)
    }

    #[test]
    fn samples_stay_few_and_bases_are_a_window_back() {
        let mut h = History::default();
        for t in 0..=1000 {
            h.sample(snap(t));
        }
        assert!(h.samples.len() <= 12, "{} samples kept", h.samples.len());
        for w in WINDOWS {
            let base = h.base(1000 * SEC, w).unwrap();
            let age = 1000 - base.at_ns / SEC;
            assert!(
                age >= w && age <= w + w / 3,
                "window {w}: base {age} s back"
            );
        }
        // early on, the oldest sample stands in
        let mut h = History::default();
        h.sample(snap(5));
        h.sample(snap(6));
        assert_eq!(h.base(6 * SEC, 60).unwrap().at_ns, 5 * SEC);
    }

    fn event(id: u64, event: Event) -> AlertEvent {
        AlertEvent {
            event,
            time: String::new(),
            id,
            kind: crate::detect::Kind::Bytes,
            ip: std::net::IpAddr::from([10, 0, 0, id as u8]),
            direction: crate::detect::Direction::Out,
            value: 0.0,
            threshold: 0,
            interval_seconds: 10.0,
            start: String::new(),
            end: None,
            peers: Vec::new(),
            group: String::new(),
        }
    }

    #[test]
    fn alert_events_are_kept_bounded_and_active_ones_until_they_end() {
        let mut h = History::default();
        let starts: Vec<AlertEvent> = (1..=5).map(|i| event(i, Event::Start)).collect();
        h.events(&starts, 3);
        h.events(&[event(2, Event::End)], 3);
        let ids = |v: Vec<AlertEvent>| v.iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(h.active(10)), [1, 3, 4, 5]);
        assert_eq!(ids(h.active(2)), [4, 5], "the newest");
        assert_eq!(ids(h.active_of(std::net::IpAddr::from([10, 0, 0, 3]))), [3]);
        // the last 3 events kept, numbered from 1
        let (kept, latest) = h.events_since(0, 100);
        assert_eq!(latest, 6);
        assert_eq!(kept.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 5, 6]);
        assert_eq!(h.events_since(5, 100).0.len(), 1);
    }

    #[test]
    fn an_earlier_time_replaces_what_came_at_or_after_it() {
        // a replay: boundaries at 10 and 20 s, its last packet at 19.5 s
        let mut h = History::default();
        let point = |s: u64| Point {
            at_ns: s,
            traffic: Default::default(),
        };
        for t in [10, 20] {
            h.sample(snap(t));
            h.point(point(t * SEC));
        }
        let mut last = Snapshot::empty(1);
        last.at_ns = 19 * SEC + SEC / 2;
        h.sample(Arc::new(last));
        h.point(point(19 * SEC + SEC / 2));
        let times: Vec<u64> = h.samples.iter().map(|s| s.at_ns).collect();
        assert_eq!(times, [10 * SEC, 19 * SEC + SEC / 2]);
        let times: Vec<u64> = h.timeline().iter().map(|p| p.at_ns).collect();
        assert_eq!(times, [10 * SEC, 19 * SEC + SEC / 2]);
    }

    #[test]
    fn the_timeline_keeps_an_hour_a_second_apart() {
        let mut h = History::default();
        for ms in (0..5000 * 1000).step_by(500) {
            h.point(Point {
                at_ns: ms * 1_000_000,
                traffic: Default::default(),
            });
        }
        let t = h.timeline();
        assert_eq!(t.len(), 3601);
        assert!(t.windows(2).all(|w| w[1].at_ns - w[0].at_ns == SEC));
        assert_eq!(t.last().unwrap().at_ns, 4999 * SEC);
    }
}
