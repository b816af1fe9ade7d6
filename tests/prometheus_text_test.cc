// The Prometheus text format both ways: vLLM v1 and v0 scrapes read into a load (queues summed
// over engines, the v1 KV gauge preferred), garbage that yields nothing without throwing, the
// writer's page read back by the parser, and histogram quantiles on known buckets.
#include "serve/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace qosroute {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

constexpr double kInf = std::numeric_limits<double>::infinity();

// Shaped like vLLM 0.9's /metrics (prometheus_client output): python_* and process_* series,
// _created gauges, histograms with le in sorted label order, and label values with '/'.
const char kVllmV1Scrape[] = R"(# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 14117.0
python_gc_objects_collected_total{generation="1"} 3404.0
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345728e+09
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 5.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 0.4375
# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 20480.0
# HELP vllm:prompt_tokens_created Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 1.7234567891234e+09
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_sum{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 41.25
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.3",model_name="Qwen/Qwen2.5-7B-Instruct"} 2.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="0.5",model_name="Qwen/Qwen2.5-7B-Instruct"} 4.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="2.5",model_name="Qwen/Qwen2.5-7B-Instruct"} 15.0
vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="Qwen/Qwen2.5-7B-Instruct"} 17.0
vllm:e2e_request_latency_seconds_count{engine="0",model_name="Qwen/Qwen2.5-7B-Instruct"} 17.0
# HELP vllm:request_success_total Count of successfully processed requests.
# TYPE vllm:request_success_total counter
vllm:request_success_total{engine="0",finished_reason="stop",model_name="Qwen/Qwen2.5-7B-Instruct"} 15.0
vllm:request_success_total{engine="0",finished_reason="length",model_name="Qwen/Qwen2.5-7B-Instruct"} 2.0
)";

// vLLM 0.6 (v0 engine): no engine label, KV usage under its old name.
const char kVllmV0Scrape[] =
    R"(# HELP vllm:num_requests_running Number of requests currently running on GPU.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
# HELP vllm:num_requests_swapped Number of requests swapped to CPU.
# TYPE vllm:num_requests_swapped gauge
vllm:num_requests_swapped{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.8125
# HELP vllm:cpu_cache_usage_perc CPU KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:cpu_cache_usage_perc gauge
vllm:cpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.0
)";

const PrometheusSample* Find(const std::vector<PrometheusSample>& samples, const std::string& name,
                             const Labels& labels) {
  for (const PrometheusSample& s : samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

VllmLoad LoadOf(const std::string& text) {
  int bad = -1;
  std::string error;
  const VllmLoad load = ReadVllmLoad(ParsePrometheusText(text, &bad, &error));
  EXPECT_EQ(bad, 0) << error;
  return load;
}

TEST(ParsePrometheusText, VllmV1ScrapeKeepsEverySampleAndReadsTheLoad) {
  int bad = -1;
  std::string error = "stale";
  const auto samples = ParsePrometheusText(kVllmV1Scrape, &bad, &error);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(error, "");
  ASSERT_EQ(samples.size(), 16u);
  EXPECT_EQ(samples[0].name, "python_gc_objects_collected_total");
  EXPECT_EQ(samples[0].labels, (Labels{{"generation", "0"}}));
  EXPECT_EQ(samples[0].value, 14117.0);
  EXPECT_EQ(samples[2].name, "process_resident_memory_bytes");
  EXPECT_TRUE(samples[2].labels.empty());
  EXPECT_EQ(samples[2].value, 1.2345728e+09);
  const auto* inf_bucket =
      Find(samples, "vllm:e2e_request_latency_seconds_bucket",
           {{"engine", "0"}, {"le", "+Inf"}, {"model_name", "Qwen/Qwen2.5-7B-Instruct"}});
  ASSERT_NE(inf_bucket, nullptr);
  EXPECT_EQ(inf_bucket->value, 17.0);

  const VllmLoad load = ReadVllmLoad(samples);
  EXPECT_EQ(load.running, 3.0);
  EXPECT_EQ(load.waiting, 5.0);
  EXPECT_EQ(load.kv_usage, 0.4375);
  EXPECT_EQ(load.kv_series, "vllm:kv_cache_usage_perc");
}

TEST(ReadVllmLoad, V0ScrapeUsesGpuCacheUsage) {
  const VllmLoad load = LoadOf(kVllmV0Scrape);
  EXPECT_EQ(load.running, 7.0);
  EXPECT_EQ(load.waiting, 0.0);  // reported zero is present, not absent
  EXPECT_EQ(load.kv_usage, 0.8125);
  EXPECT_EQ(load.kv_series, "vllm:gpu_cache_usage_perc");
}

TEST(ReadVllmLoad, V1KvNameWinsWhenBothArePresent) {
  // Both orders, so that the choice is by name and not by position.
  for (const std::string text :
       {"vllm:gpu_cache_usage_perc 0.9\nvllm:kv_cache_usage_perc 0.25\n",
        "vllm:kv_cache_usage_perc 0.25\nvllm:gpu_cache_usage_perc 0.9\n"}) {
    const VllmLoad load = LoadOf(text);
    EXPECT_EQ(load.kv_usage, 0.25) << text;
    EXPECT_EQ(load.kv_series, "vllm:kv_cache_usage_perc") << text;
  }
}

TEST(ReadVllmLoad, MissingSeriesStayAbsent) {
  const VllmLoad load = LoadOf("# HELP up whatever\nup 1\nvllm:num_requests_swapped 0\n");
  EXPECT_FALSE(load.running.has_value());
  EXPECT_FALSE(load.waiting.has_value());
  EXPECT_FALSE(load.kv_usage.has_value());
  EXPECT_EQ(load.kv_series, "");

  const VllmLoad empty = ReadVllmLoad({});
  EXPECT_FALSE(empty.running.has_value());
  EXPECT_FALSE(empty.kv_usage.has_value());
}

TEST(ReadVllmLoad, SumsQueuesOverEnginesAndTakesTheFullestCache) {
  const VllmLoad load = LoadOf(
      "vllm:num_requests_running{engine=\"0\",model_name=\"m\"} 3\n"
      "vllm:num_requests_running{engine=\"1\",model_name=\"m\"} 4\n"
      "vllm:num_requests_running{engine=\"0\",model_name=\"other\"} 0.5\n"
      "vllm:num_requests_waiting{engine=\"0\",model_name=\"m\"} 2\n"
      "vllm:num_requests_waiting{engine=\"1\",model_name=\"m\"} 10\n"
      "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"m\"} 0.3\n"
      "vllm:kv_cache_usage_perc{engine=\"1\",model_name=\"m\"} 0.7\n"
      "vllm:kv_cache_usage_perc{engine=\"2\",model_name=\"m\"} 0.1\n");
  EXPECT_EQ(load.running, 7.5);
  EXPECT_EQ(load.waiting, 12.0);
  EXPECT_EQ(load.kv_usage, 0.7);
}

TEST(ReadVllmLoad, NonFiniteOrNegativeValuesCountAsAbsent) {
  const VllmLoad alone = LoadOf(
      "vllm:num_requests_running NaN\nvllm:num_requests_waiting -1\n"
      "vllm:kv_cache_usage_perc NaN\n");
  EXPECT_FALSE(alone.running.has_value());
  EXPECT_FALSE(alone.waiting.has_value());
  EXPECT_FALSE(alone.kv_usage.has_value());

  // One engine's bad value does not hide the other's; an unusable v1 gauge falls back to v0.
  const VllmLoad mixed = LoadOf(
      "vllm:num_requests_running{engine=\"0\"} +Inf\n"
      "vllm:num_requests_running{engine=\"1\"} 2\n"
      "vllm:num_requests_waiting{engine=\"0\"} -3\n"
      "vllm:num_requests_waiting{engine=\"1\"} 1\n"
      "vllm:kv_cache_usage_perc NaN\n"
      "vllm:gpu_cache_usage_perc 0.5\n");
  EXPECT_EQ(mixed.running, 2.0);
  EXPECT_EQ(mixed.waiting, 1.0);
  EXPECT_EQ(mixed.kv_usage, 0.5);
  EXPECT_EQ(mixed.kv_series, "vllm:gpu_cache_usage_perc");
}

TEST(ReadVllmLoad, KvUsageIsClampedToAFraction) {
  EXPECT_EQ(LoadOf("vllm:kv_cache_usage_perc 1.02\n").kv_usage, 1.0);
  EXPECT_EQ(LoadOf("vllm:kv_cache_usage_perc -0.01\n").kv_usage, 0.0);
}

TEST(ParsePrometheusText, RandomBytesGiveNoSamplesAndDoNotThrow) {
  std::mt19937 rng(20250801);  // mt19937's output is fixed by the standard
  for (int trial = 0; trial < 20; ++trial) {
    std::string bytes;
    for (int i = 0; i < 4096; ++i) {
      // Bytes at 0x80 and above, plus some newlines and NULs: never a valid name start.
      const unsigned r = rng() % 130;
      bytes.push_back(r == 128 ? '\n' : r == 129 ? '\0' : static_cast<char>(0x80 | r));
    }
    int bad = 0;
    std::string error;
    std::vector<PrometheusSample> samples;
    EXPECT_NO_THROW(samples = ParsePrometheusText(bytes, &bad, &error));
    EXPECT_TRUE(samples.empty());
    EXPECT_GT(bad, 0);
    EXPECT_EQ(error.rfind("line ", 0), 0u) << error;
  }
  // Fully random bytes (any value) must not throw or crash either, whatever they parse to.
  std::string any;
  for (int i = 0; i < 65536; ++i) any.push_back(static_cast<char>(rng() & 0xff));
  EXPECT_NO_THROW(ParsePrometheusText(any));
}

TEST(ParsePrometheusText, HtmlErrorPageGivesNoSamples) {
  const std::string html =
      "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n"
      "<body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx/1.24.0</center>\n"
      "</body>\n</html>\n";
  int bad = 0;
  std::string error;
  EXPECT_TRUE(ParsePrometheusText(html, &bad, &error).empty());
  EXPECT_EQ(bad, 8);
  EXPECT_EQ(error, "line 1: expected a metric name, found '<'");
  const VllmLoad load = ReadVllmLoad(ParsePrometheusText(html));
  EXPECT_FALSE(load.running.has_value());
}

TEST(ParsePrometheusText, OneBadLineDoesNotHideTheRest) {
  const std::string text =
      "# TYPE foo gauge\n"
      "good_one 1\n"
      "foo\n"
      "good_two{a=\"b\"} 2\n"
      "bar{a=\"b\"} twelve\n"
      "good_three 3\n";
  int bad = 0;
  std::string error;
  const auto samples = ParsePrometheusText(text, &bad, &error);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].name, "good_one");
  EXPECT_EQ(samples[1].name, "good_two");
  EXPECT_EQ(samples[2].name, "good_three");
  EXPECT_EQ(samples[2].value, 3.0);
  EXPECT_EQ(bad, 2);
  EXPECT_EQ(error, "line 3: expected a value after 'foo'");
  // The outputs are optional.
  EXPECT_EQ(ParsePrometheusText(text).size(), 3u);
}

TEST(ParsePrometheusText, ReportsEachKindOfMalformedLine) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"foo{a=\"b} 1", "unterminated value of label 'a' of 'foo'"},
      {"foo{a=\"\\t\"} 1", "unknown escape '\\t' in label 'a' of 'foo'"},
      {"foo{a \"b\"} 1", "expected '=' after label 'a' of 'foo', found '\"'"},
      {"foo{a=b} 1", "expected '\"' to open label 'a' of 'foo', found 'b'"},
      {"foo{a=\"1\",a=\"2\"} 1", "duplicate label 'a' of 'foo'"},
      {"foo{a=\"1\" b=\"2\"} 1", "expected ',' or '}' after label 'a' of 'foo', found 'b'"},
      {"foo{1=\"2\"} 1", "expected a label name or '}' of 'foo', found '1'"},
      {"foo{a=\"1\"}", "expected a value after 'foo'"},
      {"foo-1", "expected a blank or '{' after 'foo', found '-'"},
      {"foo 1 2 3", "unexpected '3' after the timestamp of 'foo'"},
      {"foo 1 12.5", "bad timestamp '12.5' for 'foo'"},
      {"foo ++1", "bad value '++1' for 'foo'"},
      {"foo 0x10", "bad value '0x10' for 'foo'"},
      {"9foo 1", "expected a metric name, found '9'"},
      {"\x01 1", "expected a metric name, found byte 0x01"},
  };
  for (const auto& [line, expected] : cases) {
    int bad = 0;
    std::string error;
    EXPECT_TRUE(ParsePrometheusText("ok 1\n" + line + "\n", &bad, &error).size() == 1) << line;
    EXPECT_EQ(bad, 1) << line;
    EXPECT_EQ(error, "line 2: " + expected) << line;
  }
}

TEST(ParsePrometheusText, UnescapesLabelValues) {
  const auto samples = ParsePrometheusText(
      "m{path=\"C:\\\\dir\\\\f\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\",empty=\"\",utf8=\"caf\xc3\xa9\","
      "braces=\"{x=1,y=2}\",} 1\n");
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].labels, (Labels{{"path", "C:\\dir\\f"},
                                       {"q", "say \"hi\""},
                                       {"nl", "a\nb"},
                                       {"empty", ""},
                                       {"utf8", "caf\xc3\xa9"},
                                       {"braces", "{x=1,y=2}"}}));
}

TEST(ParsePrometheusText, IgnoresTimestampsBlanksAndCarriageReturns) {
  int bad = -1;
  const auto samples = ParsePrometheusText(
      "\n   \n\t# indented comment\r\nfoo 1.5 1712345678901\r\n"
      "bar{a=\"b\"}   -2e-3\t-42  \nbaz { a = \"c\" } 7\n",
      &bad);
  EXPECT_EQ(bad, 0);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].name, "foo");
  EXPECT_EQ(samples[0].value, 1.5);
  EXPECT_EQ(samples[1].value, -2e-3);
  EXPECT_EQ(samples[1].labels, (Labels{{"a", "b"}}));
  EXPECT_EQ(samples[2].labels, (Labels{{"a", "c"}}));
  EXPECT_EQ(samples[2].value, 7.0);
}

TEST(ParsePrometheusText, AcceptsNaNAndInfinities) {
  int bad = -1;
  const auto samples =
      ParsePrometheusText("a NaN\nb +Inf\nc -Inf\nd Inf\ne nan 5\nf +3\ng 1e400\n", &bad);
  EXPECT_EQ(bad, 1);  // 1e400 overflows, as Prometheus's own parser rejects it
  ASSERT_EQ(samples.size(), 6u);
  EXPECT_TRUE(std::isnan(samples[0].value));
  EXPECT_EQ(samples[1].value, kInf);
  EXPECT_EQ(samples[2].value, -kInf);
  EXPECT_EQ(samples[3].value, kInf);
  EXPECT_TRUE(std::isnan(samples[4].value));
  EXPECT_EQ(samples[5].value, 3.0);
}

TEST(PrometheusWriter, RoundTripsThroughTheParser) {
  struct Written {
    std::string name;
    Labels labels;
    double value;
  };
  const std::vector<Written> written = {
      {"qosroute:requests_total", {{"expert", "llama-8b"}, {"outcome", "routed"}}, 1234},
      {"qosroute:requests_total", {{"expert", "qwen \"7b\""}, {"outcome", "dropped"}}, 0},
      {"qosroute:queue_seconds", {{"path", "a\\b\nc"}}, 0.1},
      {"qosroute:queue_seconds", {{"path", ""}}, 1.0 / 3.0},
      {"qosroute:odd", {}, -kInf},
      {"qosroute:odd", {{"k", "v"}}, kInf},
      {"qosroute:tiny", {}, 5e-324},
      {"qosroute:huge", {}, 1.7976931348623157e308},
      {"qosroute:big_int", {}, 123456789012345678.0},
  };
  PrometheusWriter writer;
  for (const Written& w : written) {
    if (w.name == "qosroute:requests_total") {
      writer.Counter(w.name, "Requests by expert and outcome.", w.labels, w.value);
    } else {
      writer.Gauge(w.name, "Something.", w.labels, w.value);
    }
  }
  writer.Gauge("qosroute:nan", "Not a number.", {}, std::nan(""));
  int bad = -1;
  std::string error;
  const auto samples = ParsePrometheusText(writer.text(), &bad, &error);
  EXPECT_EQ(bad, 0) << error;
  ASSERT_EQ(samples.size(), written.size() + 1);
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_EQ(samples[i].name, written[i].name) << i;
    EXPECT_EQ(samples[i].labels, written[i].labels) << i;
    EXPECT_EQ(samples[i].value, written[i].value) << i;  // exact: numbers must round-trip
  }
  EXPECT_EQ(samples.back().name, "qosroute:nan");
  EXPECT_TRUE(std::isnan(samples.back().value));
}

TEST(PrometheusWriter, HelpAndTypeOncePerNameWithSamplesKeptTogether) {
  PrometheusWriter writer;
  // Interleaved, as a loop over experts writes them.
  writer.Gauge("queue_len", "Queue length.", {{"expert", "a"}}, 1);
  writer.Counter("routed_total", "Routed requests.", {{"expert", "a"}}, 10);
  writer.Gauge("queue_len", "Ignored second help.", {{"expert", "b"}}, 2);
  writer.Counter("routed_total", "Routed requests.", {{"expert", "b"}}, 20);
  EXPECT_EQ(writer.text(),
            "# HELP queue_len Queue length.\n"
            "# TYPE queue_len gauge\n"
            "queue_len{expert=\"a\"} 1\n"
            "queue_len{expert=\"b\"} 2\n"
            "# HELP routed_total Routed requests.\n"
            "# TYPE routed_total counter\n"
            "routed_total{expert=\"a\"} 10\n"
            "routed_total{expert=\"b\"} 20\n");
}

TEST(PrometheusWriter, EscapesHelpAndLabelValues) {
  PrometheusWriter writer;
  writer.Gauge("g", "Line one\nsays \"C:\\tmp\".", {{"v", "a\"b\\c\nd"}}, 0.5);
  EXPECT_EQ(writer.text(),
            "# HELP g Line one\\nsays \"C:\\\\tmp\".\n"
            "# TYPE g gauge\n"
            "g{v=\"a\\\"b\\\\c\\nd\"} 0.5\n");
}

TEST(PrometheusWriter, PrintsIntegersWithoutExponentAndFractionsShortest) {
  PrometheusWriter writer;
  writer.Gauge("a", "h", {}, 1e6);
  writer.Gauge("b", "h", {}, 1e20);
  writer.Gauge("c", "h", {}, 0.1);
  writer.Gauge("d", "h", {}, -2.5e-7);
  writer.Gauge("e", "h", {}, -kInf);
  writer.Gauge("f", "h", {}, 1e300);
  const std::string& text = writer.text();
  EXPECT_NE(text.find("\na 1000000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nb 100000000000000000000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nc 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nd -2.5e-07\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\ne -Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nf 1e+300\n"), std::string::npos) << text;
}

TEST(PrometheusWriter, HistogramBucketsAreCumulativeWithSumAndCount) {
  PrometheusWriter writer;
  writer.Histogram("ttft_seconds", "Time to first token.", {{"expert", "a"}}, {0.05, 0.25, 1},
                   {3, 0, 5, 2}, 4.75);
  writer.Histogram("ttft_seconds", "Time to first token.", {}, {0.05, 0.25, 1}, {0, 0, 0, 0}, 0);
  EXPECT_EQ(writer.text(),
            "# HELP ttft_seconds Time to first token.\n"
            "# TYPE ttft_seconds histogram\n"
            "ttft_seconds_bucket{expert=\"a\",le=\"0.05\"} 3\n"
            "ttft_seconds_bucket{expert=\"a\",le=\"0.25\"} 3\n"
            "ttft_seconds_bucket{expert=\"a\",le=\"1\"} 8\n"
            "ttft_seconds_bucket{expert=\"a\",le=\"+Inf\"} 10\n"
            "ttft_seconds_sum{expert=\"a\"} 4.75\n"
            "ttft_seconds_count{expert=\"a\"} 10\n"
            "ttft_seconds_bucket{le=\"0.05\"} 0\n"
            "ttft_seconds_bucket{le=\"0.25\"} 0\n"
            "ttft_seconds_bucket{le=\"1\"} 0\n"
            "ttft_seconds_bucket{le=\"+Inf\"} 0\n"
            "ttft_seconds_sum 0\n"
            "ttft_seconds_count 0\n");
}

TEST(PrometheusWriter, HistogramCountsAboveTwoToThe53StayExact) {
  PrometheusWriter writer;
  const uint64_t big = (uint64_t{1} << 53) + 1;
  writer.Histogram("h", "h", {}, {1}, {big, 1}, 0);
  EXPECT_NE(writer.text().find("h_count " + std::to_string(big + 1) + "\n"), std::string::npos)
      << writer.text();
}

TEST(PrometheusWriterDeathTest, MisuseFailsACheck) {
  EXPECT_DEATH(PrometheusWriter().Gauge("bad name", "h", {}, 1), "bad metric name");
  EXPECT_DEATH(PrometheusWriter().Gauge("g", "h", {{"bad-label", "x"}}, 1), "bad label name");
  EXPECT_DEATH(PrometheusWriter().Gauge("g", "h", {{"a", "x"}, {"a", "y"}}, 1), "duplicate label");
  EXPECT_DEATH(
      {
        PrometheusWriter writer;
        writer.Gauge("g", "h", {}, 1);
        writer.Counter("g", "h", {}, 1);
      },
      "written as gauge and as counter");
  EXPECT_DEATH(PrometheusWriter().Histogram("h", "h", {}, {1, 2}, {1, 1}, 0), "one count per");
  EXPECT_DEATH(PrometheusWriter().Histogram("h", "h", {}, {2, 1}, {1, 1, 1}, 0), "ascending");
  EXPECT_DEATH(PrometheusWriter().Histogram("h", "h", {{"le", "1"}}, {1}, {1, 1}, 0), "'le'");
}

TEST(HistogramQuantile, InterpolatesInsideTheBucketLikePrometheus) {
  const std::vector<double> bounds = {0.1, 0.5, 1.0};
  const std::vector<uint64_t> counts = {10, 30, 50, 10};            // cumulative 10, 40, 90, 100
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 0.05), 0.05);  // first bucket from 0
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 0.10), 0.1);
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 0.25), 0.3);  // 0.1 + 0.4 * 15/30
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 0.50), 0.6);  // 0.5 + 0.5 * 10/50
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 0.90), 1.0);
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 0.95), 1.0);  // overflow: last bound
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, counts, 0.0), 0.0);
}

TEST(HistogramQuantile, EdgeCases) {
  EXPECT_TRUE(std::isnan(HistogramQuantile({1, 2}, {0, 0, 0}, 0.5)));  // no observations
  EXPECT_TRUE(std::isnan(HistogramQuantile({}, {5}, 0.5)));            // no finite bound
  EXPECT_TRUE(std::isnan(HistogramQuantile({1}, {1, 1}, std::nan(""))));
  EXPECT_EQ(HistogramQuantile({1}, {1, 1}, -0.1), -kInf);
  EXPECT_EQ(HistogramQuantile({1}, {1, 1}, 1.1), kInf);
  // q = 0 with empty leading buckets: the lower edge of the first non-empty one, not 0/0.
  EXPECT_DOUBLE_EQ(HistogramQuantile({1, 2, 4}, {0, 0, 4, 0}, 0.0), 2.0);
  EXPECT_DOUBLE_EQ(HistogramQuantile({1, 2, 4}, {0, 0, 4, 0}, 0.5), 3.0);
  // A first bound at or below zero is returned as it is.
  EXPECT_DOUBLE_EQ(HistogramQuantile({-1, 1}, {5, 5, 0}, 0.2), -1.0);
  // Everything in the overflow bucket.
  EXPECT_DOUBLE_EQ(HistogramQuantile({1, 2}, {0, 0, 7}, 0.01), 2.0);
}

TEST(HistogramQuantile, AgreesWithTheWritersBucketsReadBack) {
  PrometheusWriter writer;
  const std::vector<double> bounds = {0.3, 0.5, 2.5};
  const std::vector<uint64_t> counts = {2, 2, 11, 2};
  writer.Histogram("lat", "h", {}, bounds, counts, 20);
  // Rebuild per-bucket counts from the cumulative buckets the parser reads back.
  std::vector<uint64_t> read_back;
  double previous = 0;
  for (const PrometheusSample& s : ParsePrometheusText(writer.text())) {
    if (s.name != "lat_bucket") continue;
    read_back.push_back(static_cast<uint64_t>(s.value - previous));
    previous = s.value;
  }
  EXPECT_EQ(read_back, counts);
  EXPECT_DOUBLE_EQ(HistogramQuantile(bounds, read_back, 0.5), 0.5 + 2.0 * (8.5 - 4) / 11);
}

}  // namespace
}  // namespace qosroute
