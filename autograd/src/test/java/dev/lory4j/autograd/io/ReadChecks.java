package dev.lory4j.autograd.io;

import dev.lory4j.tensor.Shapes;
import dev.lory4j.tensor.Tensor;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/** The property both fuzzers check: a read either fails with a named SafetensorsException or is consistent. */
final class ReadChecks {
    private ReadChecks() {}

    /**
     * Reads {@code data}; anything but a SafetensorsException naming the source, or an inconsistent result, throws.
     * Returns whether the read succeeded.
     */
    static boolean assertReadIsSafe(byte[] data) {
        SafetensorsFile file;
        try {
            file = Safetensors.read(data, "fuzz-input");
        } catch (SafetensorsException e) {
            if (!e.getMessage().startsWith("fuzz-input: ") || e.problem().isBlank()) {
                throw new AssertionError("message does not name the source and a problem: " + e.getMessage(), e);
            }
            return false;
        }
        checkConsistent(file, data);
        return true;
    }

    /** A successful read: shapes match the data, re-reading is deterministic, and a re-write reads back equal. */
    static void checkConsistent(SafetensorsFile file, byte[] data) {
        long totalBytes = 0;
        for (Map.Entry<String, Tensor> e : file.tensors().entrySet()) {
            Tensor t = e.getValue();
            if (t.numel() != Shapes.numel(t.shape()) || t.toArray().length != t.numel()) {
                throw new AssertionError("tensor " + e.getKey() + " has shape " + Shapes.str(t.shape()) + " but "
                        + t.toArray().length + " values");
            }
            totalBytes += t.numel();
        }
        if (totalBytes > data.length) {
            throw new AssertionError("more elements (" + totalBytes + ") than input bytes (" + data.length + ")");
        }
        SafetensorsFile again;
        try {
            again = Safetensors.read(data, "fuzz-input");
        } catch (SafetensorsException e) {
            throw new AssertionError("second read of the same bytes failed", e);
        }
        assertSame(file, again, "re-read");
        if (file.tensors().containsKey("")) {
            return; // readable but not writable (the writer insists on non-empty names)
        }
        try {
            byte[] rewritten = Safetensors.toBytes(file.tensors(), Set.of(), file.metadata());
            assertSame(file, Safetensors.read(rewritten, "rewritten"), "write and read back");
        } catch (java.io.IOException e) {
            throw new AssertionError("re-writing a readable file failed", e);
        }
    }

    private static void assertSame(SafetensorsFile a, SafetensorsFile b, String what) {
        if (!a.metadata().equals(b.metadata()) || !a.tensors().keySet().equals(b.tensors().keySet())) {
            throw new AssertionError(what + ": names or metadata differ");
        }
        for (String name : a.tensors().keySet()) {
            Tensor x = a.tensors().get(name);
            Tensor y = b.tensors().get(name);
            if (!Arrays.equals(x.shape(), y.shape()) || !Arrays.equals(x.toArray(), y.toArray())) {
                throw new AssertionError(what + ": tensor " + name + " differs");
            }
        }
    }
}
