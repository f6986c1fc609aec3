package dev.lory4j.data;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What one pass over a corpus read: documents returned, and everything not returned with its reason, so
 * nothing is dropped silently. Filled while the pass runs; complete once the pass ends.
 */
public final class ReadReport {
    /** How many problem locations are kept verbatim (the counts are always complete). */
    public static final int MAX_PROBLEMS = 100;

    private long files;
    private long documents;
    private long blankLines;
    private long malformed;
    private long bytes;
    private final List<String> problems = new ArrayList<>();

    synchronized void file() {
        files++;
    }

    synchronized void document(long textChars) {
        documents++;
        bytes += textChars;
    }

    synchronized void blank() {
        blankLines++;
    }

    synchronized void malformed(String where) {
        malformed++;
        if (problems.size() < MAX_PROBLEMS) {
            problems.add(where);
        }
    }

    /** Files opened. */
    public synchronized long files() {
        return files;
    }

    /** Documents returned. */
    public synchronized long documents() {
        return documents;
    }

    /** Characters of text returned. */
    public synchronized long chars() {
        return bytes;
    }

    /** Blank lines of JSONL files (not documents, not errors). */
    public synchronized long blankLines() {
        return blankLines;
    }

    /** Malformed lines or files that were skipped (policy {@link ReadOptions.OnMalformed#SKIP}). */
    public synchronized long malformed() {
        return malformed;
    }

    /** The first {@link #MAX_PROBLEMS} skipped locations with their reasons ({@code file:line: problem}). */
    public synchronized List<String> problems() {
        return Collections.unmodifiableList(new ArrayList<>(problems));
    }

    /** One line: files, documents, characters, blank lines and skipped malformed entries. */
    @Override
    public synchronized String toString() {
        return "read " + documents + " documents (" + bytes + " chars) from " + files + " files; "
                + malformed + " malformed skipped, " + blankLines + " blank lines";
    }
}
