package dev.lory4j.moe.inspect;

import java.util.List;
import java.util.Locale;

/** Small, dependency-free SVG charts for reports: line charts, grouped bars and heat maps. */
public final class Svg {
    private Svg() {}

    /** A named series of (x, y) points. */
    public record Series(String name, double[] x, double[] y) {}

    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
        "#e377c2", "#7f7f7f"};

    private static String f(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    /** A line chart with axes, ticks and a legend. */
    public static String lineChart(String title, String xLabel, String yLabel, List<Series> series, int w, int h) {
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
        if (y1 - y0 < 1e-9) {
            y1 = y0 + 1;
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
            double yv = y0 + (y1 - y0) * k / 4;
            double py = t + ph - ph * k / 4;
            sb.append("<text x='").append(l - 6).append("' y='").append(f(py + 4))
                    .append("' font-size='11' text-anchor='end'>").append(String.format(Locale.ROOT, "%.2f", yv))
                    .append("</text>");
            double xv = x0 + (x1 - x0) * k / 4;
            double px = l + pw * k / 4;
            sb.append("<text x='").append(f(px)).append("' y='").append(t + ph + 16)
                    .append("' font-size='11' text-anchor='middle'>").append(String.format(Locale.ROOT, "%.0f", xv))
                    .append("</text>");
        }
        for (int si = 0; si < series.size(); si++) {
            Series s = series.get(si);
            StringBuilder pts = new StringBuilder();
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i])) {
                    continue;
                }
                double px = l + pw * (s.x()[i] - x0) / Math.max(x1 - x0, 1e-12);
                double py = t + ph - ph * (s.y()[i] - y0) / (y1 - y0);
                pts.append(f(px)).append(',').append(f(py)).append(' ');
            }
            String c = COLORS[si % COLORS.length];
            sb.append("<polyline fill='none' stroke='").append(c).append("' stroke-width='1.5' points='")
                    .append(pts).append("'/>");
            sb.append("<rect x='").append(l + 10).append("' y='").append(t + 6 + 16 * si)
                    .append("' width='12' height='3' fill='").append(c).append("'/>");
            sb.append("<text x='").append(l + 28).append("' y='").append(t + 11 + 16 * si)
                    .append("' font-size='12'>").append(esc(s.name())).append("</text>");
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
                        .append(' ').append(esc(categories.get(c))).append(": ")
                        .append(String.format(Locale.ROOT, "%.2f", v)).append("</title></rect>");
                sb.append("<text x='").append(f(x + bw / 2)).append("' y='").append(f(t + ph - bh - 3))
                        .append("' font-size='9' text-anchor='middle'>")
                        .append(String.format(Locale.ROOT, "%.1f", v)).append("</text>");
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

    /** A heat map of values in [0, max] with row and column labels and the values written in the cells. */
    public static String heatmap(String title, List<String> rows, List<String> cols, double[][] v, double max) {
        int cell = 34;
        int l = 90;
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
                double x = Double.isFinite(v[r][c]) ? Math.min(1, v[r][c] / max) : 0;
                int shade = (int) Math.round(255 * (1 - x));
                sb.append("<rect x='").append(l + cell * c).append("' y='").append(t + cell * r)
                        .append("' width='").append(cell - 1).append("' height='").append(cell - 1)
                        .append("' fill='rgb(").append(shade).append(',').append(shade).append(",255)'/>");
                sb.append("<text x='").append(l + cell * c + cell / 2).append("' y='").append(t + cell * r + cell / 2 + 4)
                        .append("' font-size='9' text-anchor='middle' fill='").append(x > 0.6 ? "white" : "black")
                        .append("'>").append(String.format(Locale.ROOT, "%.2f", v[r][c])).append("</text>");
            }
        }
        return sb.append("</svg>").toString();
    }

    private static StringBuilder header(int w, int h, String title) {
        StringBuilder sb = new StringBuilder();
        sb.append("<svg xmlns='http://www.w3.org/2000/svg' width='").append(w).append("' height='").append(h)
                .append("' font-family='sans-serif'>");
        sb.append("<text x='").append(w / 2).append("' y='18' font-size='14' text-anchor='middle'>")
                .append(esc(title)).append("</text>");
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
