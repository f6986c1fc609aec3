package dev.lory4j.autograd.io;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer fuzz test of {@link Safetensors#read(byte[], String)}: only a {@link SafetensorsException} may come out,
 * and whatever reads successfully must be consistent (see {@link ReadChecks}).
 *
 * <p>In every {@code mvn test} this runs twice (see the Surefire executions in autograd/pom.xml): never in the
 * main test JVM; in its own JVM with {@code JAZZER_FUZZ=1}, where Jazzer first replays the seed corpus
 * ({@code src/test/resources/dev/lory4j/autograd/io/SafetensorsFuzzTestInputs/fuzzRead/}, made by
 * {@code make_fuzz_seeds.py}) and then fuzzes for {@code maxDuration} (override with the environment variable
 * {@code JAZZER_MAX_DURATION}, e.g. {@code 10m}). Run alone from an IDE without {@code JAZZER_FUZZ} it replays
 * the seeds only (regression mode). A crash is written to {@code autograd/target/jazzer/crash-*}: move it into
 * the inputs directory to keep it as a regression case.
 */
class SafetensorsFuzzTest {

    /** The fuzz target: any input, only SafetensorsException or a consistent result. */
    @FuzzTest(maxDuration = "12s")
    @DictionaryEntries({"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"F16\"",
        "\"BF16\"", "\"F64\"", "\"I64\"", "\"I32\"", "\"I16\"", "\"I8\"", "\"U8\"", "\"U16\"", "\"U32\"", "\"U64\"",
        "\"BOOL\"", "\"F8_E4M3\"", "{\"", "\":[", "],\"", "\":{\"", "\":\"", "\",\"", "}}", "[]", "null",
        "18446744073709551615", "-1", "4294967296"})
    void fuzzRead(byte[] data) {
        ReadChecks.assertReadIsSafe(data);
    }
}
