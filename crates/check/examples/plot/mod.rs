//! Line plots to SVG (plotters' SVG backend), shared by the digits examples: one or more panels
//! stacked vertically in one file, each line with its own colour, width and optional legend
//! entry (as `crates/synthgrad/examples/plot/mod.rs`, with thin per-seed lines and panels).

use plotters::prelude::*;

/// Colours with contrast on white (Palette99 without its light entries), by index.
const COLORS: [RGBColor; 10] = [
    RGBColor(0xE6, 0x19, 0x4B), // red
    RGBColor(0x43, 0x63, 0xD8), // blue
    RGBColor(0x3C, 0xB4, 0x4B), // green
    RGBColor(0xF5, 0x82, 0x31), // orange
    RGBColor(0x91, 0x1E, 0xB4), // purple
    RGBColor(0x46, 0x99, 0x90), // teal
    RGBColor(0x9A, 0x63, 0x24), // brown
    RGBColor(0x00, 0x00, 0x75), // navy
    RGBColor(0x80, 0x80, 0x00), // olive
    RGBColor(0x80, 0x80, 0x80), // grey
];

/// One line: `(x, y)` points (non-finite `y` dropped), a colour index, a stroke width and a
/// legend label (`None`: no legend entry, e.g. every seed after the first).
pub struct Line {
    pub label: Option<String>,
    pub color: usize,
    pub width: u32,
    pub points: Vec<(f64, f64)>,
}

/// One chart: title, axis descriptions, lines.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub lines: Vec<Line>,
    /// The legend in the upper right corner (else the lower right).
    pub legend_upper: bool,
    /// The y range (else the data's, padded by 5 %).
    pub y_range: Option<(f64, f64)>,
}

/// Plots `panels`, stacked vertically, to the SVG file `path`.
pub fn panels(path: &str, panels: &[Panel]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("{path}: {e}");
    let height = 440 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (720, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    for (area, panel) in root.split_evenly((panels.len().max(1), 1)).iter().zip(panels) {
        let finite = || panel.lines.iter().flat_map(|l| l.points.iter().copied()).filter(|p| p.1.is_finite());
        let (x0, x1) =
            finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
        let (y0, y1) =
            finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
        let (y0, y1) = if y0.is_finite() && y1.is_finite() { (y0, y1) } else { (0.0, 1.0) };
        let pad = 0.05 * (y1 - y0).max(1e-9);
        let (y0, y1) = panel.y_range.unwrap_or((y0 - pad, y1 + pad));
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| err(&e))?;
        chart.configure_mesh().x_desc(&panel.x_label).y_desc(&panel.y_label).draw().map_err(|e| err(&e))?;
        for line in &panel.lines {
            let style = COLORS[line.color % COLORS.len()].stroke_width(line.width);
            let points: Vec<(f64, f64)> = line.points.iter().copied().filter(|p| p.1.is_finite()).collect();
            let drawn = chart.draw_series(LineSeries::new(points, style)).map_err(|e| err(&e))?;
            if let Some(label) = &line.label {
                drawn
                    .label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
        }
        chart
            .configure_series_labels()
            .position(if panel.legend_upper {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            })
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
}
