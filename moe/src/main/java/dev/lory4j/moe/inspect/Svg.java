package dev.lory4j.moe.inspect;

import java.util.List;
import java.util.Locale;

/**
 * Small, dependency-free SVG charts for reports: line charts, grouped bars, heat maps with colour bars and stacked
 * weight strips. Every chart scales to its container (a {@code viewBox}, width 100 %, at most its natural width).
 */
public final class Svg {
    private Svg() {}

    /**
     * A named series of (x, y) points, drawn in palette colour {@code colour} (-1: by its position in the chart);
     * a faint series is drawn thin and light, behind the others.
     */
    public record Series(String name, double[] x, double[] y, int colour, boolean faint) {
        /** Checks that x and y pair up. */
        public Series {
            if (x.length != y.length) {
                throw new IllegalArgumentException("Svg.Series '" + name + "': " + x.length + " x values for "
                        + y.length + " y values");
            }
        }

        /** A series in the colour of its position, drawn normally. */
        public Series(String name, double[] x, double[] y) {
            this(name, x, y, -1, false);
        }
    }

    /** A vertical line at {@code x} with a label (a step where something happened). */
    public record Marker(double x, String label) {}

    /**
     * A colour scale: sequential (white to dark blue over [lo, hi]) or diverging (blue below 0, white at 0, red above,
     * over [lo, hi] = [-m, m]); values outside are drawn at the ends; {@code label} names the quantity on its bar.
     */
    public record Scale(double lo, double hi, boolean diverging, String label) {
        /** Checks the range. */
        public Scale {
            if (!Double.isFinite(lo) || !Double.isFinite(hi) || !(hi > lo)) {
                throw new IllegalArgumentException("Svg.Scale '" + label + "': need finite lo < hi, got [" + lo + ", "
                        + hi + "]");
            }
        }

        /** A sequential scale over [lo, hi] (a range of zero width is widened so that it can be drawn). */
        public static Scale sequential(double lo, double hi, String label) {
            return hi > lo ? new Scale(lo, hi, false, label) : new Scale(lo, lo + Math.max(1e-9, Math.abs(lo) * 1e-3),
                    false, label);
        }

        /** A diverging scale over [-maxAbs, maxAbs] centred on 0. */
        public static Scale diverging(double maxAbs, String label) {
            double m = maxAbs > 0 && Double.isFinite(maxAbs) ? maxAbs : 1e-9;
            return new Scale(-m, m, true, label);
        }

        /** The position of v on the scale in [0, 1] (ends clamped). */
        double position(double v) {
            return Math.max(0, Math.min(1, (v - lo) / (hi - lo)));
        }

        /** The fill colour of v (null for NaN: the cell stays blank). */
        public String colour(double v) {
            if (Double.isNaN(v)) {
                return null;
            }
            double t = position(v);
            int[][] stops = diverging ? DIVERGING : SEQUENTIAL;
            double x = t * (stops.length - 1);
            int i = Math.min(stops.length - 2, (int) x);
            double f = x - i;
            int[] rgb = new int[3];
            for (int c = 0; c < 3; c++) {
                rgb[c] = (int) Math.round(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
            }
            return "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")";
        }

        /** Whether text on v's colour should be white. */
        boolean dark(double v) {
            double t = position(v);
            return diverging ? Math.abs(t - 0.5) > 0.35 : t > 0.6;
        }
    }

    private static final int[][] SEQUENTIAL = {{247, 251, 255}, {107, 174, 214}, {8, 48, 107}};
    private static final int[][] DIVERGING = {{33, 102, 172}, {247, 247, 247}, {178, 24, 43}};
    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
        "#e377c2", "#7f7f7f"};

    private static String f(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    /** The number written on a chart: 3 significant digits, no exponent for ordinary magnitudes. */
    static String num(double v) {
        if (Double.isNaN(v)) {
            return "–";
        }
        double a = Math.abs(v);
        String fmt = a == 0 || (a >= 0.01 && a < 1000) ? (a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f"
                : "%.3f") : "%.2g";
        return String.format(Locale.ROOT, fmt, v);
    }

    /** HTML/XML escaping of text. */
    public static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;");
    }

    /** The colour of expert {@code e} of {@code experts} (evenly spaced hues) at opacity {@code alpha}. */
    public static String expertColour(int e, int experts, double alpha) {
        return String.format(Locale.ROOT, "hsla(%.0f,70%%,50%%,%.2f)", 360.0 * e / Math.max(1, experts), alpha);
    }

    /** A line chart with axes, ticks and a legend, its y range fitted to the data. */
    public static String lineChart(String title, String xLabel, String yLabel, List<Series> series, int w, int h) {
        return lineChart(title, xLabel, yLabel, series, Double.NaN, Double.NaN, List.of(), w, h);
    }

    /**
     * A line chart whose y axis runs over [yLo, yHi] (NaN: fitted to the data; points outside are drawn at the edge),
     * with vertical markers.
     */
    public static String lineChart(String title, String xLabel, String yLabel, List<Series> series, double yLo,
                                   double yHi, List<Marker> markers, int w, int h) {
        double x0 = Double.MAX_VALUE;
        double x1 = -Double.MAX_VALUE;
        double y0 = Double.MAX_VALUE;
        double y1 = -Double.MAX_VALUE;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i])) {
                    x0 = Math.min(x0, s.x()[i]);
                    x1 = Math.max(x1, s.x()[i]);
                    y0 = Math.min(y0, s.y()[i]);
                    y1 = Math.max(y1, s.y()[i]);
                }
            }
        }
        if (x0 > x1) {
            x0 = 0;
            x1 = 1;
            y0 = 0;
            y1 = 1;
        }
        y0 = Double.isNaN(yLo) ? y0 : yLo;
        y1 = Double.isNaN(yHi) ? y1 : yHi;
        if (y1 - y0 < 1e-9) {
            y1 = y0 + 1;
        }
        if (x1 - x0 < 1e-12) {
            x1 = x0 + 1;
        }
        int l = 60;
        int r = 20;
        int t = 30;
        int b = 45;
        double pw = w - l - r;
        double ph = h - t - b;
        StringBuilder sb = header(w, h, title);
        sb.append(axes(l, t, pw, ph, xLabel, yLabel));
        for (int k = 0; k <= 4; k++) {
            double py = t + ph - ph * k / 4;
            sb.append("<text x='").append(l - 6).append("' y='").append(f(py + 4))
                    .append("' font-size='11' text-anchor='end'>").append(num(y0 + (y1 - y0) * k / 4))
                    .append("</text>");
            double px = l + pw * k / 4;
            sb.append("<text x='").append(f(px)).append("' y='").append(t + ph + 16)
                    .append("' font-size='11' text-anchor='middle'>")
                    .append(String.format(Locale.ROOT, "%.0f", x0 + (x1 - x0) * k / 4)).append("</text>");
        }
        for (Marker m : markers) {
            double px = l + pw * (m.x() - x0) / (x1 - x0);
            sb.append("<line x1='").append(f(px)).append("' y1='").append(t).append("' x2='").append(f(px))
                    .append("' y2='").append(f(t + ph)).append("' stroke='#555' stroke-dasharray='4 3'/>")
                    .append("<text x='").append(f(px + 4)).append("' y='").append(t + ph - 6)
                    .append("' font-size='11' fill='#555'>").append(esc(m.label())).append("</text>");
        }
        int legend = 0;
        for (int pass = 0; pass < 2; pass++) { // faint series first, so that the others are drawn over them
            for (int si = 0; si < series.size(); si++) {
                Series s = series.get(si);
                if (s.faint() != (pass == 0)) {
                    continue;
                }
                StringBuilder pts = new StringBuilder();
                for (int i = 0; i < s.x().length; i++) {
                    if (Double.isFinite(s.y()[i])) {
                        double y = Math.max(y0, Math.min(y1, s.y()[i]));
                        pts.append(f(l + pw * (s.x()[i] - x0) / (x1 - x0))).append(',')
                                .append(f(t + ph - ph * (y - y0) / (y1 - y0))).append(' ');
                    }
                }
                String c = COLORS[(s.colour() < 0 ? si : s.colour()) % COLORS.length];
                sb.append("<polyline fill='none' stroke='").append(c).append("' stroke-width='")
                        .append(s.faint() ? "0.8' stroke-opacity='0.35" : "1.8").append("' points='").append(pts)
                        .append("'/>");
                sb.append("<rect x='").append(l + 10).append("' y='").append(t + 6 + 16 * legend)
                        .append("' width='12' height='3' fill='").append(c).append("'")
                        .append(s.faint() ? " fill-opacity='0.35'" : "").append("/>");
                sb.append("<text x='").append(l + 28).append("' y='").append(t + 11 + 16 * legend)
                        .append("' font-size='12'>").append(esc(s.name())).append("</text>");
                legend++;
            }
        }
        return sb.append("</svg>").toString();
    }

    /** Grouped bars: one group per category, one bar per series. */
    public static String groupedBars(String title, String yLabel, List<String> categories, List<String> seriesNames,
                                     double[][] values, int w, int h) {
        double max = 0;
        for (double[] row : values) {
            for (double v : row) {
                if (Double.isFinite(v)) {
                    max = Math.max(max, v);
                }
            }
        }
        max = max == 0 ? 1 : max * 1.1;
        int l = 60;
        int r = 20;
        int t = 30;
        int b = 60;
        double pw = w - l - r;
        double ph = h - t - b;
        StringBuilder sb = header(w, h, title);
        sb.append(axes(l, t, pw, ph, "", yLabel));
        double gw = pw / Math.max(categories.size(), 1);
        double bw = gw * 0.8 / Math.max(seriesNames.size(), 1);
        for (int c = 0; c < categories.size(); c++) {
            for (int s = 0; s < seriesNames.size(); s++) {
                double v = values[s][c];
                double bh = Double.isFinite(v) ? ph * v / max : 0;
                double x = l + gw * c + gw * 0.1 + bw * s;
                sb.append("<rect x='").append(f(x)).append("' y='").append(f(t + ph - bh)).append("' width='")
                        .append(f(bw - 1)).append("' height='").append(f(bh)).append("' fill='")
                        .append(COLORS[s % COLORS.length]).append("'><title>").append(esc(seriesNames.get(s)))
                        .append(' ').append(esc(categories.get(c))).append(": ").append(num(v))
                        .append("</title></rect>");
                sb.append("<text x='").append(f(x + bw / 2)).append("' y='").append(f(t + ph - bh - 3))
                        .append("' font-size='9' text-anchor='middle'>").append(num(v)).append("</text>");
            }
            sb.append("<text x='").append(f(l + gw * c + gw / 2)).append("' y='").append(t + ph + 16)
                    .append("' font-size='11' text-anchor='middle'>").append(esc(categories.get(c))).append("</text>");
        }
        for (int s = 0; s < seriesNames.size(); s++) {
            sb.append("<rect x='").append(l + 10 + 110 * s).append("' y='").append(h - 22)
                    .append("' width='12' height='10' fill='").append(COLORS[s % COLORS.length]).append("'/>");
            sb.append("<text x='").append(l + 26 + 110 * s).append("' y='").append(h - 13)
                    .append("' font-size='12'>").append(esc(seriesNames.get(s))).append("</text>");
        }
        return sb.append("</svg>").toString();
    }

    /**
     * A heat map coloured on {@code scale} with row and column labels and the values written in the cells; a NaN cell
     * is left blank (outlined only).
     */
    public static String heatmap(String title, List<String> rows, List<String> cols, double[][] v, Scale scale) {
        int cell = 34;
        int l = 110;
        int t = 44;
        int w = l + cell * cols.size() + 20;
        int h = t + cell * rows.size() + 20;
        StringBuilder sb = header(w, h, title);
        for (int c = 0; c < cols.size(); c++) {
            sb.append("<text x='").append(l + cell * c + cell / 2).append("' y='").append(t - 6)
                    .append("' font-size='11' text-anchor='middle'>").append(esc(cols.get(c))).append("</text>");
        }
        for (int r = 0; r < rows.size(); r++) {
            sb.append("<text x='").append(l - 6).append("' y='").append(t + cell * r + cell / 2 + 4)
                    .append("' font-size='11' text-anchor='end'>").append(esc(rows.get(r))).append("</text>");
            for (int c = 0; c < cols.size(); c++) {
                String fill = scale.colour(v[r][c]);
                sb.append("<rect x='").append(l + cell * c).append("' y='").append(t + cell * r)
                        .append("' width='").append(cell - 1).append("' height='").append(cell - 1).append("' fill='")
                        .append(fill == null ? "none' stroke='#ddd" : fill).append("'/>");
                if (fill != null) {
                    sb.append("<text x='").append(l + cell * c + cell / 2).append("' y='")
                            .append(t + cell * r + cell / 2 + 4).append("' font-size='9' text-anchor='middle' fill='")
                            .append(scale.dark(v[r][c]) ? "white" : "black").append("'>").append(num(v[r][c]))
                            .append("</text>");
                }
            }
        }
        return sb.append("</svg>").toString();
    }

    /** A horizontal colour bar of {@code scale} with its ends, middle and label. */
    public static String colourBar(Scale scale) {
        int w = 320;
        int h = 50;
        int l = 20;
        int bw = w - 2 * l;
        int steps = 48;
        StringBuilder sb = header(w, h, "");
        for (int i = 0; i < steps; i++) {
            double v = scale.lo() + (scale.hi() - scale.lo()) * (i + 0.5) / steps;
            sb.append("<rect x='").append(f(l + (double) bw * i / steps)).append("' y='6' width='")
                    .append(f((double) bw / steps + 0.5)).append("' height='14' fill='").append(scale.colour(v))
                    .append("'/>");
        }
        for (int k = 0; k <= 2; k++) {
            double v = scale.lo() + (scale.hi() - scale.lo()) * k / 2;
            sb.append("<text x='").append(l + bw * k / 2).append("' y='32' font-size='11' text-anchor='middle'>")
                    .append(num(v)).append("</text>");
        }
        sb.append("<text x='").append(w / 2).append("' y='46' font-size='11' text-anchor='middle'>")
                .append(esc(scale.label())).append("</text>");
        return sb.append("</svg>").toString();
    }

    /**
     * A strip of routing weights: one row per label (a layer), one column per segment, each cell a stacked column of
     * the E weights ({@code weights[row][segment][expert]}) in the experts' colours.
     */
    public static String weightStrip(String title, List<String> rowLabels, float[][][] weights) {
        int segments = weights.length == 0 ? 0 : weights[0].length;
        int experts = segments == 0 ? 0 : weights[0][0].length;
        int cw = Math.max(6, Math.min(24, 640 / Math.max(1, segments)));
        int ch = 28;
        int l = 70;
        int t = 40;
        int w = l + cw * segments + 20;
        int h = t + ch * rowLabels.size() + 10;
        StringBuilder sb = header(w, h, title);
        int labelEvery = Math.max(1, (int) Math.ceil(24.0 / cw));
        for (int s = 0; s < segments; s += labelEvery) {
            sb.append("<text x='").append(l + cw * s + cw / 2).append("' y='").append(t - 6)
                    .append("' font-size='10' text-anchor='middle'>").append(s).append("</text>");
        }
        for (int r = 0; r < rowLabels.size(); r++) {
            sb.append("<text x='").append(l - 6).append("' y='").append(t + ch * r + ch / 2 + 4)
                    .append("' font-size='11' text-anchor='end'>").append(esc(rowLabels.get(r))).append("</text>");
            for (int s = 0; s < segments; s++) {
                double y = t + ch * r + ch - 1;
                StringBuilder tip = new StringBuilder(esc(rowLabels.get(r)) + ", segment " + s + ":");
                for (int e = 0; e < experts; e++) {
                    double hgt = (ch - 2) * weights[r][s][e];
                    y -= hgt;
                    sb.append("<rect x='").append(l + cw * s).append("' y='").append(f(y)).append("' width='")
                            .append(cw - 1).append("' height='").append(f(hgt)).append("' fill='")
                            .append(expertColour(e, experts, 1)).append("'/>");
                    tip.append(" e").append(e).append(' ').append(num(weights[r][s][e]));
                }
                sb.append("<rect x='").append(l + cw * s).append("' y='").append(t + ch * r).append("' width='")
                        .append(cw - 1).append("' height='").append(ch - 1).append("' fill='none'><title>")
                        .append(tip).append("</title></rect>");
            }
        }
        return sb.append("</svg>").toString();
    }

    /** The opening tag (scales with its container up to its natural width) and the title. */
    private static StringBuilder header(int w, int h, String title) {
        StringBuilder sb = new StringBuilder();
        sb.append("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 ").append(w).append(' ').append(h)
                .append("' width='100%' style='max-width:").append(w)
                .append("px;height:auto' font-family='sans-serif'>");
        if (!title.isEmpty()) {
            sb.append("<text x='").append(w / 2).append("' y='18' font-size='14' text-anchor='middle'>")
                    .append(esc(title)).append("</text>");
        }
        return sb;
    }

    private static String axes(int l, int t, double pw, double ph, String xLabel, String yLabel) {
        return "<line x1='" + l + "' y1='" + t + "' x2='" + l + "' y2='" + f(t + ph) + "' stroke='black'/>"
                + "<line x1='" + l + "' y1='" + f(t + ph) + "' x2='" + f(l + pw) + "' y2='" + f(t + ph)
                + "' stroke='black'/>"
                + "<text x='" + f(l + pw / 2) + "' y='" + f(t + ph + 34) + "' font-size='12' text-anchor='middle'>"
                + esc(xLabel) + "</text>"
                + "<text x='14' y='" + f(t + ph / 2) + "' font-size='12' text-anchor='middle' transform='rotate(-90 14 "
                + f(t + ph / 2) + ")'>" + esc(yLabel) + "</text>";
    }
}
