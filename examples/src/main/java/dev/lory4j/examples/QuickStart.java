package dev.lory4j.examples;

import dev.lory4j.autograd.nn.DecoderConfig;
import dev.lory4j.data.Document;
import dev.lory4j.data.batch.Packer;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import dev.lory4j.moe.Generator;
import dev.lory4j.moe.MoeConfig;
import dev.lory4j.moe.MoeModel;
import dev.lory4j.moe.RoutingMode;
import dev.lory4j.moe.RoutingTrace;
import dev.lory4j.moe.train.PackedBatchSource;
import dev.lory4j.moe.train.TrainConfig;
import dev.lory4j.moe.train.Trainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The README's quick start, as a program (a test holds the README to these lines and runs it): build a Lory model,
 * train it on strings, save it, load it, generate, and read the routing weights.
 */
public final class QuickStart {
    private QuickStart() {}

    /** Runs the quick start; the model goes to {@code args[0]} (default quickstart.safetensors). */
    public static void main(String[] args) throws Exception {
        // quick start: begin
        List<Document> docs = new ArrayList<>();   // your texts, each with a domain
        for (int i = 0; i < 200; i++) {
            docs.add(Document.of("doc" + i, i % 2 == 0 ? "recipes" : "code", i % 2 == 0
                    ? "Whisk " + i + " eggs with sugar, fold in the flour and bake for " + (20 + i % 9) + " minutes."
                    : "for (int k = 0; k < " + i + "; k++) { total += values[k] * " + i % 7 + "; }"));
        }
        var tokenizer = new ByteTokenizer();
        var decoder = DecoderConfig.builder().vocabSize(tokenizer.vocabSize()).hiddenSize(64).numLayers(2)
                .numHeads(4).intermediateSize(176).maxPositions(64).build();
        var config = MoeConfig.lory(decoder, 4, 16);   // 4 experts, merged once per segment of 16 tokens
        var rows = new Packer(tokenizer, 65).packRandom(docs, 1);   // rows of 64 inputs and their targets
        var training = TrainConfig.builder().steps(60).lr(3e-3f).build();
        MoeModel model = new Trainer(config, training, new PackedBatchSource(rows, 8, 1), null, null).run().model();

        Path file = Path.of(args.length > 0 ? args[0] : "quickstart.safetensors");
        model.save(file);                                  // weights and config in one safetensors file
        MoeModel loaded = MoeModel.load(file).eval();      // eval(): the config's inference routing

        int[] prompt = tokenizer.encode("Whisk 3 eggs");
        int[] text = new Generator(loaded).generate(prompt, 40,
                new Generator.Sampling(0.7f, 0, 1f, tokenizer.documentBoundaryId(), 42));
        System.out.println(tokenizer.decode(text));

        RoutingTrace trace = new RoutingTrace();           // the routing weights of every segment
        loaded.setTrace(trace);
        loaded.setRoutingMode(RoutingMode.CAUSAL_SEGMENT);
        int[] code = tokenizer.encode("for (int k = 0; k < 9; k++) { total += values[k]; }");
        loaded.lm().forward(code, 1, code.length);
        for (RoutingTrace.Entry e : trace.entries()) {
            System.out.println("layer " + e.layer() + ", segment " + e.segment() + ": " + Arrays.toString(e.weights()));
        }
        // quick start: end
    }
}
