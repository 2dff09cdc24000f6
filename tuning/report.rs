//! The benchmark sweep's report: reads the `results.csv` that
//! `tuning/sweep` writes into a directory and draws, per swept setting, the
//! captured rate, the share dropped and the CPU per captured packet against
//! the setting's values (SVG and PNG in `plots/`), each tool a line through
//! the medians of its repeats with every repeat as a cross, the best setting
//! marked; and writes `report.md` with the same figures as tables.
//!
//!   ringflow-sweep-report DIR

use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

/// One run: a row of the CSV.
#[derive(Debug, Clone)]
struct Run {
    axis: String,
    value: String,
    tool: String,
    captured_pps: f64,
    drops: f64,
    captured: f64,
    cpu_ns: f64,
}

/// The repeats of one tool at one value of one axis.
#[derive(Debug, Clone)]
struct Point {
    value: String,
    tool: String,
    captured_pps: Vec<f64>,
    drop_pct: Vec<f64>,
    cpu_ns: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

fn read_runs(path: &Path) -> Result<Vec<Run>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{}: empty", path.display()))?
        .split(',')
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| format!("{}: no column {name}", path.display()))
    };
    let (axis, value, tool) = (col("axis")?, col("value")?, col("tool")?);
    let (captured_pps, drops, captured, cpu) = (
        col("captured_pps")?,
        col("drops")?,
        col("captured")?,
        col("cpu_ns_per_pkt")?,
    );
    let mut runs = Vec::new();
    for (n, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != header.len() {
            return Err(format!(
                "{} line {}: {} fields, the header has {}",
                path.display(),
                n + 2,
                f.len(),
                header.len()
            ));
        }
        let num = |i: usize| f[i].trim().parse::<f64>().unwrap_or(f64::NAN);
        runs.push(Run {
            axis: f[axis].to_string(),
            value: f[value].to_string(),
            tool: f[tool].to_string(),
            captured_pps: num(captured_pps),
            drops: num(drops),
            captured: num(captured),
            cpu_ns: num(cpu),
        });
    }
    if runs.is_empty() {
        return Err(format!("{}: no runs", path.display()));
    }
    Ok(runs)
}

/// Per axis, in the order of the CSV: its points, values and tools in
/// their order of appearance.
fn points(runs: &[Run]) -> Vec<(String, Vec<Point>)> {
    let mut axes: Vec<(String, Vec<Point>)> = Vec::new();
    for r in runs {
        let i = match axes.iter().position(|(a, _)| *a == r.axis) {
            Some(i) => i,
            None => {
                axes.push((r.axis.clone(), Vec::new()));
                axes.len() - 1
            }
        };
        let pts = &mut axes[i].1;
        let p = match pts
            .iter()
            .position(|p| p.value == r.value && p.tool == r.tool)
        {
            Some(p) => p,
            None => {
                pts.push(Point {
                    value: r.value.clone(),
                    tool: r.tool.clone(),
                    captured_pps: Vec::new(),
                    drop_pct: Vec::new(),
                    cpu_ns: Vec::new(),
                });
                pts.len() - 1
            }
        };
        let seen = r.captured + r.drops;
        pts[p].captured_pps.push(r.captured_pps);
        pts[p].drop_pct.push(if seen > 0.0 {
            100.0 * r.drops / seen
        } else {
            0.0
        });
        pts[p].cpu_ns.push(r.cpu_ns);
    }
    axes
}

/// Axes that vary the load, not a setting: nothing to choose there.
const LOADS: [&str; 2] = ["flows", "frame"];

/// The best ringflow setting of an axis: of those that dropped the least
/// (within a point of the lowest share), the highest median captured
/// rate; of rates within 1 % of each other, the least CPU per packet.
fn best<'a>(axis: &str, pts: &'a [Point]) -> Option<&'a Point> {
    if LOADS.contains(&axis) {
        return None;
    }
    let ours = || {
        pts.iter()
            .filter(|p| p.tool != "tcpdump" && median(&p.captured_pps).is_finite())
    };
    let least = ours()
        .map(|p| median(&p.drop_pct))
        .filter(|d| d.is_finite())
        .fold(f64::INFINITY, f64::min);
    ours()
        .filter(|p| median(&p.drop_pct) <= least + 1.0)
        .max_by(|a, b| {
            let (ra, rb) = (median(&a.captured_pps), median(&b.captured_pps));
            if (ra - rb).abs() <= 0.01 * ra.max(rb) {
                median(&b.cpu_ns).total_cmp(&median(&a.cpu_ns))
            } else {
                ra.total_cmp(&rb)
            }
        })
}

fn range(v: &[f64], scale: f64) -> String {
    let lo = v
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::INFINITY, f64::min);
    let hi = v
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if v.len() < 2 || !lo.is_finite() {
        String::new()
    } else {
        format!(" ({:.3}–{:.3})", lo * scale, hi * scale)
    }
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];
const TCPDUMP: RGBColor = RGBColor(110, 110, 110);

type Metric = (&'static str, fn(&Point) -> &Vec<f64>, f64);

const METRICS: [Metric; 3] = [
    ("captured, Mpps", |p| &p.captured_pps, 1e-6),
    ("dropped, % of frames seen", |p| &p.drop_pct, 1.0),
    ("CPU per captured packet, ns", |p| &p.cpu_ns, 1.0),
];

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    axis: &str,
    pts: &[Point],
    reference: Option<&Point>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(err)?;
    let mut values: Vec<&str> = Vec::new();
    let mut tools: Vec<&str> = Vec::new();
    for p in pts {
        if !values.contains(&p.value.as_str()) {
            values.push(&p.value);
        }
        if !tools.contains(&p.tool.as_str()) {
            tools.push(&p.tool);
        }
    }
    let top = best(axis, pts);
    let title = match top {
        Some(b) => format!("{axis}: best {} ({})", b.value, b.tool),
        None if LOADS.contains(&axis) => format!("{axis} (the load)"),
        None => axis.to_string(),
    };
    let root = root.titled(&title, ("sans-serif", 22)).map_err(err)?;
    let panels = root.split_evenly((3, 1));
    let n = values.len() as f64;
    for ((name, get, scale), area) in METRICS.iter().zip(panels.iter()) {
        let mut hi: f64 = 0.0;
        for p in pts.iter().chain(reference) {
            for v in get(p) {
                if v.is_finite() {
                    hi = hi.max(v * scale);
                }
            }
        }
        let hi = if hi > 0.0 { hi * 1.15 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..n - 0.5, 0f64..hi)
            .map_err(err)?;
        let labels = values.clone();
        let label = move |x: &f64| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                labels
                    .get(i as usize)
                    .map(|s| s.to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(2)
            .x_labels(values.len() * 2 + 1)
            .x_label_formatter(&label)
            .y_desc(*name)
            .x_desc(axis)
            .draw()
            .map_err(err)?;
        if let Some(r) = reference {
            let y = median(get(r)) * scale;
            if y.is_finite() {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(-0.5, y), (n - 0.5, y)],
                        6,
                        4,
                        TCPDUMP.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label("tcpdump (at the baseline)")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], TCPDUMP));
            }
        }
        for (t, tool) in tools.iter().enumerate() {
            let color = if *tool == "tcpdump" {
                TCPDUMP
            } else {
                PALETTE[t % PALETTE.len()]
            };
            let mine: Vec<(f64, &Point)> = pts
                .iter()
                .filter(|p| p.tool == *tool)
                .map(|p| {
                    let x = values.iter().position(|v| *v == p.value).unwrap_or(0);
                    (x as f64, p)
                })
                .collect();
            let line: Vec<(f64, f64)> = mine
                .iter()
                .map(|(x, p)| (*x, median(get(p)) * scale))
                .filter(|(_, y)| y.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(*tool)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(
                    line.iter()
                        .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
                )
                .map_err(err)?;
            let dots: Vec<(f64, f64)> = mine
                .iter()
                .flat_map(|(x, p)| get(p).iter().map(move |v| (*x, v * scale)))
                .filter(|(_, y)| y.is_finite())
                .collect();
            chart
                .draw_series(
                    dots.iter()
                        .map(|&(x, y)| Cross::new((x, y), 3, color.mix(0.6))),
                )
                .map_err(err)?;
        }
        if let Some(b) = top {
            let x = values.iter().position(|v| *v == b.value).unwrap_or(0) as f64;
            let y = median(get(b)) * scale;
            if y.is_finite() {
                chart
                    .draw_series(std::iter::once(TriangleMarker::new(
                        (x, y),
                        9,
                        BLACK.filled(),
                    )))
                    .map_err(err)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        "best",
                        (x + 0.06, y),
                        ("sans-serif", 14).into_font().color(&BLACK),
                    )))
                    .map_err(err)?;
            }
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)
}

/// Where distributions put DejaVu Sans (Debian's fonts-dejavu-core,
/// Arch, Fedora).
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
];

/// The font the PNGs' text is drawn in (an SVG names its font and leaves
/// the drawing to the viewer): `RINGFLOW_FONT`, else DejaVu Sans.
fn load_font() -> Result<(), String> {
    let given = std::env::var("RINGFLOW_FONT").ok();
    for path in given.iter().map(String::as_str).chain(FONTS) {
        if let Ok(bytes) = std::fs::read(path) {
            // registered once for the whole run
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            return plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
                .map_err(|_| format!("{path}: not a TrueType font"));
        }
    }
    Err("no font to draw the plots' text in: install fonts-dejavu-core, or set RINGFLOW_FONT to a TrueType file".into())
}

fn report(dir: &Path) -> Result<(), String> {
    let runs = read_runs(&dir.join("results.csv"))?;
    load_font()?;
    let axes = points(&runs);
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| format!("{}: {e}", plots.display()))?;
    // tcpdump at the baseline (the backend axis), drawn as a reference
    // line where an axis has no tcpdump run of its own
    let reference = axes
        .iter()
        .find(|(a, _)| a == "backend")
        .and_then(|(_, pts)| pts.iter().find(|p| p.tool == "tcpdump"))
        .cloned();
    let meta = std::fs::read_to_string(dir.join("meta.txt")).unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(md, "# ringflow benchmark sweep\n");
    for line in meta.lines().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(md, "- {line}");
    }
    let _ = writeln!(
        md,
        "\nEach setting is varied alone, the others at the baseline. Figures are medians \
         of the repeats; dropped is the share of the frames the capture saw that it \
         dropped (what the generator sent beyond that was dropped by the path before any \
         capture); CPU is the capture process's, all threads, per captured packet. The \
         best setting has the highest median captured rate among those that dropped the \
         least (within a point); of rates within 1 %, the least CPU. In brackets, the \
         lowest and highest rate of the repeats.\n"
    );
    for (axis, pts) in &axes {
        let own_tcpdump = pts.iter().any(|p| p.tool == "tcpdump");
        let r = if own_tcpdump {
            None
        } else {
            reference.as_ref()
        };
        let svg = plots.join(format!("{axis}.svg"));
        let png = plots.join(format!("{axis}.png"));
        draw(
            SVGBackend::new(&svg, (900, 960)).into_drawing_area(),
            axis,
            pts,
            r,
        )?;
        draw(
            BitMapBackend::new(&png, (900, 960)).into_drawing_area(),
            axis,
            pts,
            r,
        )?;
        let _ = writeln!(md, "## {axis}\n\n![{axis}](plots/{axis}.png)\n");
        let _ = writeln!(
            md,
            "| {axis} | tool | captured Mpps | dropped % | CPU ns/packet | runs |"
        );
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        let top = best(axis, pts);
        for p in pts {
            let mark = if top.is_some_and(|b| std::ptr::eq(b, p)) {
                " **best**"
            } else {
                ""
            };
            let _ = writeln!(
                md,
                "| {}{mark} | {} | {:.3}{} | {:.1} | {:.0} | {} |",
                p.value,
                p.tool,
                median(&p.captured_pps) / 1e6,
                range(&p.captured_pps, 1e-6),
                median(&p.drop_pct),
                median(&p.cpu_ns),
                p.captured_pps.len()
            );
        }
        if let Some(t) = r {
            let _ = writeln!(
                md,
                "\ntcpdump at the baseline: {:.3} Mpps, {:.1} % dropped, {:.0} ns/packet.",
                median(&t.captured_pps) / 1e6,
                median(&t.drop_pct),
                median(&t.cpu_ns)
            );
        }
        let _ = writeln!(md);
    }
    std::fs::write(dir.join("report.md"), md).map_err(|e| format!("report.md: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir] = args.as_slice() else {
        eprintln!(
            "ringflow-sweep-report: usage: ringflow-sweep-report DIR (where tuning/sweep wrote results.csv)"
        );
        return ExitCode::from(2);
    };
    match report(Path::new(dir)) {
        Ok(()) => {
            println!("wrote {dir}/report.md and {dir}/plots/");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ringflow-sweep-report: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(axis: &str, value: &str, tool: &str, pps: f64, cpu: f64) -> Run {
        Run {
            axis: axis.into(),
            value: value.into(),
            tool: tool.into(),
            captured_pps: pps,
            drops: 10.0,
            captured: 90.0,
            cpu_ns: cpu,
        }
    }

    #[test]
    fn the_best_is_the_fastest_and_of_equals_the_cheapest() {
        let runs = vec![
            run("ring", "8", "af-packet", 1.0e6, 100.0),
            run("ring", "8", "af-packet", 3.0e6, 100.0),
            run("ring", "8", "af-packet", 2.0e6, 100.0),
            run("ring", "32", "af-packet", 2.5e6, 90.0),
            run("ring", "128", "af-packet", 2.51e6, 80.0),
            run("ring", "128", "tcpdump", 9.0e6, 10.0),
        ];
        let mut lossy = run("ring", "512", "af-packet", 5.0e6, 50.0);
        lossy.drops = 30.0;
        let axes = points(&[runs.clone(), vec![lossy]].concat());
        assert_eq!(axes.len(), 1);
        let pts = &axes[0].1;
        assert_eq!(median(&pts[0].captured_pps), 2.0e6);
        assert_eq!(pts[0].drop_pct, vec![10.0; 3]);
        // tcpdump is the reference, never the best; 512 is fastest but
        // drops more; 128 is as fast as 32 (within 1 %) for less CPU
        let b = best("ring", pts).unwrap();
        assert!(best("flows", pts).is_none(), "the load is not a setting");
        assert_eq!((b.value.as_str(), b.tool.as_str()), ("128", "af-packet"));
        assert!(median(&[]).is_nan());
        assert_eq!(median(&[1.0, 4.0]), 2.5);
    }
}
