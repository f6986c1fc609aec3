package dev.lory4j.data;

import java.nio.file.Path;

/** A corpus file could not be read: the message names the file and, for line-based formats, the line. */
public final class CorpusFormatException extends RuntimeException {
    private final transient Path file;
    private final long line;

    /** An error at {@code line} (1-based; 0 when it concerns the whole file) of {@code file}. */
    public CorpusFormatException(Path file, long line, String problem, Throwable cause) {
        super(location(file, line) + ": " + problem, cause);
        this.file = file;
        this.line = line;
    }

    static String location(Path file, long line) {
        return line > 0 ? file + ":" + line : String.valueOf(file);
    }

    /** The file that failed. */
    public Path file() {
        return file;
    }

    /** The 1-based line, or 0 when the error concerns the whole file. */
    public long line() {
        return line;
    }
}
