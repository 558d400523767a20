// SVG plots: well-formed XML, the expected number of drawn points and series, escaping, and
// graceful handling of NaN / Inf / empty input.
#include <catch2/catch.hpp>

#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/report/svg.hpp"

namespace {

// Minimal XML well-formedness check: balanced and properly nested tags, quoted attributes
// without '<', no duplicate attributes, entities only from the predefined set (or numeric),
// no raw '<' or stray '&' in text, exactly one root element. Returns "" or the first problem.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> stack;
  std::size_t i = 0, roots = 0;
  auto check_entities = [](const std::string& text) -> std::string {
    for (std::size_t p = text.find('&'); p != std::string::npos; p = text.find('&', p + 1)) {
      const auto semi = text.find(';', p);
      if (semi == std::string::npos) return "unterminated entity";
      const std::string e = text.substr(p + 1, semi - p - 1);
      if (e != "amp" && e != "lt" && e != "gt" && e != "quot" && e != "apos" && !(e.size() > 1 && e[0] == '#'))
        return "unknown entity &" + e + ";";
    }
    return "";
  };
  auto is_name = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.'; };
  while (i < s.size()) {
    if (s[i] != '<') {
      const auto next = s.find('<', i);
      const std::string text = s.substr(i, next == std::string::npos ? std::string::npos : next - i);
      if (text.find('>') != std::string::npos && false) return "raw '>'";  // allowed in XML text
      if (auto e = check_entities(text); !e.empty()) return e;
      if (stack.empty() && text.find_first_not_of(" \t\r\n") != std::string::npos) return "text outside the root";
      if (next == std::string::npos) break;
      i = next;
      continue;
    }
    if (s.compare(i, 5, "<?xml") == 0) {
      if (i != 0) return "XML declaration not at the start";
      const auto end = s.find("?>", i);
      if (end == std::string::npos) return "unterminated declaration";
      i = end + 2;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      const auto end = s.find("-->", i);
      if (end == std::string::npos) return "unterminated comment";
      i = end + 3;
      continue;
    }
    const bool closing = i + 1 < s.size() && s[i + 1] == '/';
    std::size_t p = i + (closing ? 2 : 1);
    std::string name;
    while (p < s.size() && is_name(s[p])) name += s[p++];
    if (name.empty()) return "tag without a name at " + std::to_string(i);
    if (closing) {
      while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
      if (p >= s.size() || s[p] != '>') return "malformed closing tag </" + name;
      if (stack.empty() || stack.back() != name) return "mismatched </" + name + ">";
      stack.pop_back();
      i = p + 1;
      continue;
    }
    std::vector<std::string> attrs;
    for (;;) {
      while (p < s.size() && std::isspace(static_cast<unsigned char>(s[p]))) ++p;
      if (p >= s.size()) return "unterminated tag <" + name;
      if (s[p] == '>' || (s[p] == '/' && p + 1 < s.size() && s[p + 1] == '>')) break;
      std::string attr;
      while (p < s.size() && is_name(s[p])) attr += s[p++];
      if (attr.empty()) return "bad attribute in <" + name;
      for (const auto& a : attrs)
        if (a == attr) return "duplicate attribute " + attr + " in <" + name;
      attrs.push_back(attr);
      if (p >= s.size() || s[p] != '=') return "attribute " + attr + " without value in <" + name;
      ++p;
      if (p >= s.size() || (s[p] != '"' && s[p] != '\'')) return "unquoted attribute " + attr + " in <" + name;
      const char q = s[p];
      const auto end = s.find(q, p + 1);
      if (end == std::string::npos) return "unterminated attribute " + attr;
      const std::string value = s.substr(p + 1, end - p - 1);
      if (value.find('<') != std::string::npos) return "'<' in attribute " + attr;
      if (auto e = check_entities(value); !e.empty()) return e + " in attribute " + attr;
      p = end + 1;
      if (p < s.size() && !std::isspace(static_cast<unsigned char>(s[p])) && s[p] != '>' && s[p] != '/')
        return "no space after attribute " + attr;
    }
    if (stack.empty()) ++roots;
    if (roots > 1) return "more than one root element";
    if (s[p] == '/') {
      i = p + 2;
    } else {
      stack.push_back(name);
      i = p + 1;
    }
  }
  if (!stack.empty()) return "unclosed <" + stack.back() + ">";
  if (roots != 1) return "no root element";
  return "";
}

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

std::vector<int> data_points(const std::string& s) {
  std::vector<int> v;
  const std::regex re("data-points=\"([0-9]+)\"");
  for (std::sregex_iterator it(s.begin(), s.end(), re), end; it != end; ++it) v.push_back(std::stoi((*it)[1]));
  return v;
}

// Also validate with xmllint where it is installed (optional: the checker above is the test).
void xmllint_if_available(const std::string& svg, const std::string& tag) {
  static const bool available = std::system("xmllint --version > /dev/null 2>&1") == 0;
  if (!available) return;
  const std::string path = std::string(SCVAE_TEST_TMP_DIR) + "/svg_lint_" + tag + ".svg";
  scvae::write_svg(path, svg);
  INFO("xmllint on " << path);
  CHECK(std::system(("xmllint --noout '" + path + "' 2>&1").c_str()) == 0);
}

void check_well_formed(const std::string& svg, const std::string& tag) {
  INFO(svg.substr(0, 400));
  CHECK(xml_problem(svg) == "");
  xmllint_if_available(svg, tag);
}

}  // namespace

TEST_CASE("the checker itself rejects malformed XML", "[svg]") {
  CHECK(xml_problem("<a><b/></a>") == "");
  CHECK(xml_problem("<a x=\"1\" y='2'>t &amp; u</a>") == "");
  CHECK(xml_problem("<a><b></a>") != "");
  CHECK(xml_problem("<a x=1/>") != "");
  CHECK(xml_problem("<a>x & y</a>") != "");
  CHECK(xml_problem("<a x=\"<\"/>") != "");
  CHECK(xml_problem("<a x=\"1\" x=\"2\"/>") != "");
  CHECK(xml_problem("<a/><b/>") != "");
  CHECK(xml_problem("<a>") != "");
}

TEST_CASE("line plot of training curves", "[svg]") {
  scvae::LineSeries train{"train ELBO", {-900, -700, -620, -600, -590}, {}};
  scvae::LineSeries valid{"validation ELBO", {-950, -720, std::nan(""), -610, -605}, {}};
  scvae::PlotOptions o;
  o.title = "ELBO per epoch";
  o.x_label = "epoch";
  o.y_label = "ELBO (nats)";
  const std::string svg = scvae::line_plot({train, valid}, o);
  check_well_formed(svg, "line");
  CHECK(count(svg, "<g class=\"series\"") == 2);
  CHECK(data_points(svg) == std::vector<int>{5, 4});  // the NaN is skipped
  // The NaN splits the validation curve: 1 polyline for train, 2 for validation.
  CHECK(count(svg, "<polyline") == 3);
  CHECK(count(svg, "train ELBO") == 2);  // legend + data-name
  CHECK(svg.find("ELBO per epoch") != std::string::npos);
  CHECK(svg.find("NaN") == std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
  // Nice ticks: data -950 .. -590 span 360 -> nice range 500 -> step nice(500 / 5) = 100, so the
  // y axis runs -1000 .. -500 with 6 ticks; x (epochs 1 .. 5) gets step 1.
  CHECK(svg.find(">-1000</text>") != std::string::npos);
  CHECK(svg.find(">-500</text>") != std::string::npos);
  CHECK(svg.find(">-750</text>") == std::string::npos);
  CHECK(count(svg, "<g class=\"y-ticks\"") == 1);
  CHECK(svg.find(">5</text>") != std::string::npos);
}

TEST_CASE("line plot edge cases: empty, all NaN, single point, explicit x, log axes", "[svg]") {
  const std::string empty = scvae::line_plot({});
  check_well_formed(empty, "line_empty");
  CHECK(empty.find("no data") != std::string::npos);
  const double inf = std::numeric_limits<double>::infinity();
  const std::string bad = scvae::line_plot({{"all bad", {std::nan(""), inf, -inf}, {}}, {"none", {}, {}}});
  check_well_formed(bad, "line_bad");
  CHECK(data_points(bad) == std::vector<int>{0, 0});
  CHECK(bad.find("no data") != std::string::npos);
  const std::string one = scvae::line_plot({{"one", {3.0}, {}}});
  check_well_formed(one, "line_one");
  CHECK(count(one, "<circle") == 1);
  scvae::PlotOptions lo;
  lo.log_x = true;
  lo.log_y = true;
  const std::string log = scvae::line_plot({{"power", {1, 10, 100, 0, 1000}, {1, 2, 3, 4, 5}}}, lo);
  check_well_formed(log, "line_log");
  CHECK(data_points(log) == std::vector<int>{4});  // y = 0 cannot be shown on a log axis
  CHECK(log.find(">1000</text>") != std::string::npos);
  CHECK_THROWS_AS(scvae::line_plot({{"mismatch", {1, 2}, {1}}}), scvae::InputError);
}

TEST_CASE("scatter plot coloured by category", "[svg]") {
  std::vector<double> x, y;
  std::vector<int> c;
  for (int i = 0; i < 3000; ++i) {
    x.push_back(std::cos(i * 0.01) * (1 + i % 3));
    y.push_back(std::sin(i * 0.01) * (1 + i % 3));
    c.push_back(i % 3 == 2 ? 7 : i % 3);  // categories 0, 1, 7: not contiguous
  }
  x[10] = std::nan("");
  y[20] = std::numeric_limits<double>::infinity();
  scvae::ScatterOptions o;
  o.title = "latent PCA";
  const std::string svg = scvae::scatter_plot(x, y, c, {"T cells", "B <cells> & \"friends\""}, o);
  check_well_formed(svg, "scatter");
  CHECK(count(svg, "<g class=\"category\"") == 3);
  CHECK(count(svg, "<circle") == 2998 + 3);  // points + 3 legend dots
  // Points 10 (category 1) and 20 (category 2 -> 7) are skipped.
  CHECK(data_points(svg) == std::vector<int>{1000, 999, 999});
  CHECK(svg.find("T cells (1000)") != std::string::npos);
  CHECK(svg.find("B &lt;cells&gt; &amp; &quot;friends&quot; (999)") != std::string::npos);
  CHECK(svg.find(">7 (999)</text>") != std::string::npos);  // unnamed category shows its number
  CHECK(svg.find("#1f77b4") != std::string::npos);
  // A [2 x N] view gives the same picture.
  std::vector<double> xy;
  for (std::size_t i = 0; i < x.size(); ++i) {
    xy.push_back(x[i]);
    xy.push_back(y[i]);
  }
  const std::string from_view = scvae::scatter_plot(
      scvae::MatrixView<const double>(xy.data(), 2, static_cast<scvae::Index>(x.size())), c,
      {"T cells", "B <cells> & \"friends\""}, o);
  CHECK(from_view == svg);
  CHECK_THROWS_AS(scvae::scatter_plot(x, y, std::vector<int>(5, 0)), scvae::InputError);
}

TEST_CASE("scatter plot of 20k points stays compact and valid", "[svg]") {
  std::vector<double> x(20000), y(20000);
  std::vector<int> c(20000);
  for (int i = 0; i < 20000; ++i) {
    x[i] = std::sin(i * 1.3) * 1e-4;  // tiny magnitudes exercise scientific tick labels
    y[i] = i;
    c[i] = i % 20;
  }
  const std::string svg = scvae::scatter_plot(x, y, c);
  check_well_formed(svg, "scatter20k");
  CHECK(count(svg, "<g class=\"category\"") == 20);
  CHECK(svg.size() < 20000 * 60);
  const std::string empty = scvae::scatter_plot(std::vector<double>{}, std::vector<double>{}, std::vector<int>{});
  check_well_formed(empty, "scatter_empty");
  CHECK(empty.find("no data") != std::string::npos);
}

TEST_CASE("observed vs reconstructed scatter with diagonal", "[svg]") {
  const std::vector<double> observed{0.01, 0.5, 3.0, 40.0, 0.0, std::nan("")};
  const std::vector<double> predicted{0.02, 0.4, 3.3, 38.0, 0.001, 1.0};
  scvae::ScatterOptions o;
  o.log_x = o.log_y = true;
  o.x_label = "observed mean";
  o.y_label = "reconstructed mean";
  const std::string svg = scvae::scatter_xy(observed, predicted, o);
  check_well_formed(svg, "xy_log");
  CHECK(data_points(svg) == std::vector<int>{4});
  CHECK(count(svg, "class=\"diagonal\"") == 1);
  CHECK(svg.find("2 points not shown (non-finite or &lt;= 0)") != std::string::npos);
  // Shared log domain over the drawable pairs, 0.01 .. 40 -> 1e-2 .. 1e2, a tick per decade (the
  // 0.001 paired with an observed 0 is not drawn and must not stretch the axis).
  CHECK(svg.find(">0.01</text>") != std::string::npos);
  CHECK(svg.find(">0.001</text>") == std::string::npos);
  CHECK(svg.find(">100</text>") != std::string::npos);
  // The diagonal runs from the bottom-left to the top-right corner of the plot area.
  const std::regex diag("class=\"diagonal\" x1=\"([0-9.]+)\" y1=\"([0-9.]+)\" x2=\"([0-9.]+)\" y2=\"([0-9.]+)\"");
  std::smatch m;
  REQUIRE(std::regex_search(svg, m, diag));
  CHECK(std::stod(m[1]) < std::stod(m[3]));
  CHECK(std::stod(m[2]) > std::stod(m[4]));
  const std::string lin = scvae::scatter_xy({1, 2, 3}, {1.1, 1.9, 3.2}, {}, false);
  check_well_formed(lin, "xy_lin");
  CHECK(count(lin, "class=\"diagonal\"") == 0);
  CHECK(data_points(lin) == std::vector<int>{3});
  CHECK_THROWS_AS(scvae::scatter_xy({1}, {1, 2}), scvae::InputError);
}

TEST_CASE("text escaping and locale-independent numbers", "[svg]") {
  CHECK(scvae::detail::xml_escape("a<b>&\"c'\x01") == "a&lt;b&gt;&amp;&quot;c&apos;");
  scvae::PlotOptions o;
  o.title = "<script>alert('x')</script> & more";
  o.x_label = "\"quoted\"";
  const std::string svg = scvae::line_plot({{"a&b", {1, 2}, {}}}, o);
  check_well_formed(svg, "escape");
  CHECK(svg.find("<script>") == std::string::npos);
  CHECK(svg.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; more") != std::string::npos);
  CHECK(scvae::detail::coord(-0.04) == "0");
  CHECK(scvae::detail::coord(12.345) == "12.3");
  CHECK(scvae::detail::coord(-7.0) == "-7");
  CHECK(scvae::detail::tick_label(0.25, 0.05) == "0.25");
  CHECK(scvae::detail::tick_label(2e6, 1e6) == "2e06");
  CHECK(scvae::detail::tick_label(-1e-17, 0.1) == "0.0");
  // A comma-decimal locale (when installed) must not leak into the SVG.
  if (std::setlocale(LC_NUMERIC, "de_DE.UTF-8") != nullptr) {
    CHECK(scvae::detail::tick_label(0.5, 0.1) == "0.5");
    std::setlocale(LC_NUMERIC, "C");
  }
}

TEST_CASE("write_svg is atomic and names the file on failure", "[svg]") {
  const std::string path = std::string(SCVAE_TEST_TMP_DIR) + "/plot.svg";
  const std::string svg = scvae::line_plot({{"a", {1, 2, 3}, {}}});
  scvae::write_svg(path, svg);
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str() == svg);
  std::ifstream tmp(path + ".tmp");
  CHECK(!tmp.good());  // the temporary was renamed away
  const std::string bad = std::string(SCVAE_TEST_TMP_DIR) + "/no/such/dir/plot.svg";
  CHECK_THROWS_WITH(scvae::write_svg(bad, svg), Catch::Contains(bad));
  CHECK_THROWS_AS(scvae::write_svg("", svg), scvae::InputError);
}
