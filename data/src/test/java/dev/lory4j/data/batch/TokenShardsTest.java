package dev.lory4j.data.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.lory4j.data.Document;
import dev.lory4j.data.tokenizer.ByteTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Shard directories: rows round-trip, and damaged directories are refused with the file at fault. */
class TokenShardsTest {
    @TempDir
    Path tmp;

    private static PackedSequences packed() {
        Random r = new Random(3);
        List<Document> docs = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            StringBuilder sb = new StringBuilder();
            for (int j = 0, n = 20 + r.nextInt(200); j < n; j++) {
                sb.append((char) ('a' + r.nextInt(26)));
            }
            docs.add(Document.of("d" + i, i % 2 == 0 ? "even" : "odd", sb.toString()));
        }
        return new Packer(new ByteTokenizer(), 17).packRandom(docs, 1);
    }

    @Test
    void rowsRoundTripAcrossShardFiles() throws IOException {
        PackedSequences p = packed();
        TokenShards.Manifest m = TokenShards.write(tmp, p, new ByteTokenizer(), 7, Map.of("source", "test"));
        assertThat(m.shards()).hasSize((p.size() + 6) / 7);
        assertThat(TokenShards.isShardDirectory(tmp)).isTrue();
        PackedSequences back = TokenShards.read(tmp);
        assertThat(back.size()).isEqualTo(p.size());
        assertThat(back.seqLen()).isEqualTo(17);
        for (int i = 0; i < p.size(); i++) {
            assertThat(back.tokens(i)).isEqualTo(p.tokens(i));
        }
        assertThat(back.documents(0)).isEmpty();
        assertThat(back.majorityDomain(0)).isNull();
        assertThat(TokenShards.manifest(tmp).info()).containsEntry("source", "test");
        assertThat(TokenShards.tokenizer(tmp).vocabSize()).isEqualTo(new ByteTokenizer().vocabSize());
    }

    @Test
    void damagedDirectoriesAreRefusedNamingTheFile() throws IOException {
        TokenShards.write(tmp, packed(), new ByteTokenizer(), 7, Map.of());
        Path shard = tmp.resolve(TokenShards.shardName(1));
        byte[] bytes = Files.readAllBytes(shard);
        Files.write(shard, java.util.Arrays.copyOf(bytes, bytes.length - 4));
        assertThatThrownBy(() -> TokenShards.read(tmp)).hasMessageContaining(TokenShards.shardName(1))
                .hasMessageContaining("bytes");
        Files.delete(shard);
        assertThatThrownBy(() -> TokenShards.read(tmp)).hasMessageContaining("is missing");
        Files.writeString(tmp.resolve(TokenShards.MANIFEST), "{\"format\": \"other\"}");
        assertThatThrownBy(() -> TokenShards.read(tmp)).hasMessageContaining("'format'");
        Files.writeString(tmp.resolve(TokenShards.MANIFEST), "{not json");
        assertThatThrownBy(() -> TokenShards.read(tmp)).hasMessageContaining("invalid JSON");
        Files.delete(tmp.resolve(TokenShards.MANIFEST));
        assertThatThrownBy(() -> TokenShards.read(tmp)).hasMessageContaining("not a finished shard directory");
        assertThatThrownBy(() -> TokenShards.writeShard(tmp, 0, new int[5], 2)).hasMessageContaining("whole rows");
    }
}
