package dev.lory4j.bench;

import java.util.ArrayList;
import java.util.List;

/**
 * A plain-text table with a header row and a dashed rule: text columns left-aligned, numeric columns
 * right-aligned (a column is numeric when every body cell parses as a number).
 */
public final class TextTable {
    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    /** A table with the given column headers. */
    public TextTable(String... headers) {
        if (headers.length == 0) {
            throw new IllegalArgumentException("TextTable: needs at least one column header");
        }
        this.headers = List.of(headers);
    }

    /** Appends one row; it must have exactly one cell per column. */
    public TextTable addRow(String... cells) {
        if (cells.length != headers.size()) {
            throw new IllegalArgumentException("TextTable.addRow: " + cells.length + " cells for "
                    + headers.size() + " columns " + headers);
        }
        rows.add(List.of(cells));
        return this;
    }

    /** The table as lines separated by '\n', ending with '\n'. */
    public String render() {
        int cols = headers.size();
        int[] width = new int[cols];
        boolean[] numeric = new boolean[cols];
        for (int c = 0; c < cols; c++) {
            width[c] = headers.get(c).length();
            numeric[c] = !rows.isEmpty();
            for (List<String> row : rows) {
                width[c] = Math.max(width[c], row.get(c).length());
                numeric[c] &= isNumber(row.get(c));
            }
        }
        StringBuilder sb = new StringBuilder();
        appendLine(sb, headers, width, numeric);
        for (int c = 0; c < cols; c++) {
            if (c > 0) {
                sb.append("  ");
            }
            sb.append("-".repeat(width[c]));
        }
        sb.append('\n');
        for (List<String> row : rows) {
            appendLine(sb, row, width, numeric);
        }
        return sb.toString();
    }

    private static void appendLine(StringBuilder sb, List<String> cells, int[] width, boolean[] numeric) {
        StringBuilder line = new StringBuilder();
        for (int c = 0; c < cells.size(); c++) {
            if (c > 0) {
                line.append("  ");
            }
            String cell = cells.get(c);
            String pad = " ".repeat(width[c] - cell.length());
            line.append(numeric[c] ? pad + cell : cell + pad);
        }
        sb.append(line.toString().stripTrailing()).append('\n');
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    @Override
    public String toString() {
        return render();
    }
}
