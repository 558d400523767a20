#pragma once
// Dependency-free SVG plots for the command-line program's reports: learning curves
// (line_plot), 2-D embeddings coloured by cluster (scatter_plot) and observed vs. reconstructed
// values (scatter_xy). Each returns the SVG document as a string; write_svg stores it atomically.
// Non-finite points (and non-positive ones on log axes) are skipped, empty inputs give a valid
// plot that says "no data", and all text is XML-escaped.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/view.hpp"
#include "detail/atomic_file.hpp"
#include "detail/axis.hpp"
#include "detail/svg_canvas.hpp"
#include "detail/svg_text.hpp"

namespace scvae {

struct PlotOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 720;   // pixels
  int height = 480;  // pixels
  bool log_x = false;
  bool log_y = false;
};

struct ScatterOptions : PlotOptions {
  double point_radius = 1.6;  // pixels
  double opacity = 0.6;       // fill opacity: overlapping points stay readable
};

// One curve of a line plot. x empty: the points are at x = 1, 2, ..., y.size() (epochs).
struct LineSeries {
  std::string name;
  std::vector<double> y;
  std::vector<double> x;
};

namespace detail {

inline CanvasText canvas_text(const PlotOptions& o, const char* who) {
  SCVAE_CHECK(o.width >= 100 && o.width <= 20000 && o.height >= 100 && o.height <= 20000,
              std::string(who) + ": width and height must be in [100, 20000] pixels");
  return {o.title, o.x_label, o.y_label, o.width, o.height};
}

inline double series_x(const LineSeries& s, std::size_t i) {
  return s.x.empty() ? static_cast<double>(i + 1) : s.x[i];
}

}  // namespace detail

// Curves, e.g. training and validation ELBO per epoch. Each series is a <g class="series">
// with data-name and data-points (the number of drawn points); a non-finite value breaks the
// line (the curve has a gap rather than a misleading straight segment).
inline std::string line_plot(const std::vector<LineSeries>& series, const PlotOptions& options = {}) {
  const auto text = detail::canvas_text(options, "line_plot");
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& s : series) {
    SCVAE_CHECK(s.x.empty() || s.x.size() == s.y.size(),
                "line_plot: series '" + s.name + "' has " + std::to_string(s.x.size()) + " x values for " +
                    std::to_string(s.y.size()) + " y values");
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      const double x = detail::series_x(s, i), y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (options.log_x && x <= 0) || (options.log_y && y <= 0)) continue;
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  }
  std::vector<detail::LegendEntry> legend;
  for (std::size_t i = 0; i < series.size(); ++i)
    legend.push_back({series[i].name.empty() ? "series " + std::to_string(i + 1) : series[i].name,
                      detail::palette_color(i), true});
  const auto f = detail::layout(text, legend, detail::make_axis(xmin, xmax, options.log_x),
                                detail::make_axis(ymin, ymax, options.log_y));
  std::string out;
  detail::open_svg(out, text);
  detail::draw_axes(out, f, text);
  std::size_t drawn_total = 0;
  for (std::size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    const std::string color = legend[i].color;
    std::string body, segment;
    std::size_t drawn = 0, seg_points = 0;
    double last_x = 0, last_y = 0;
    auto flush = [&] {
      if (seg_points == 1)  // a lone point would be invisible as a polyline
        body += "<circle cx=\"" + detail::coord(last_x) + "\" cy=\"" + detail::coord(last_y) + "\" r=\"2.5\" fill=\"" +
                color + "\"/>\n";
      else if (seg_points > 1)
        body += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"" +
                segment + "\"/>\n";
      segment.clear();
      seg_points = 0;
    };
    for (std::size_t j = 0; j < s.y.size(); ++j) {
      const double x = detail::series_x(s, j), y = s.y[j];
      if (!f.accepts(x, y)) {
        flush();
        continue;
      }
      last_x = f.px(x);
      last_y = f.py(y);
      if (seg_points) segment += ' ';
      segment += detail::coord(last_x) + "," + detail::coord(last_y);
      ++seg_points;
      ++drawn;
    }
    flush();
    drawn_total += drawn;
    out += "<g class=\"series\" data-name=\"" + detail::xml_escape(legend[i].name) + "\" data-points=\"" +
           std::to_string(drawn) + "\">\n" + body + "</g>\n";
  }
  if (drawn_total == 0) detail::draw_no_data(out, f);
  detail::draw_legend(out, f, legend);
  detail::close_svg(out);
  return out;
}

// Points coloured by integer category (e.g. PCA of the latent space coloured by cluster). The
// legend lists the categories in increasing order with their point counts; the name of
// category c is category_names[c] when c indexes it, else the number. Each category is a
// <g class="category"> with data-points; points are <circle> elements.
inline std::string scatter_plot(const std::vector<double>& x, const std::vector<double>& y,
                                const std::vector<int>& categories, const std::vector<std::string>& category_names = {},
                                const ScatterOptions& options = {}) {
  const auto text = detail::canvas_text(options, "scatter_plot");
  SCVAE_CHECK(x.size() == y.size(), "scatter_plot: x has " + std::to_string(x.size()) + " values, y has " +
                                        std::to_string(y.size()));
  SCVAE_CHECK(categories.empty() || categories.size() == x.size(),
              "scatter_plot: " + std::to_string(categories.size()) + " categories for " + std::to_string(x.size()) +
                  " points");
  SCVAE_CHECK(options.point_radius > 0 && options.opacity > 0 && options.opacity <= 1,
              "scatter_plot: point_radius must be positive and opacity in (0, 1]");
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  std::map<int, std::vector<std::size_t>> members;  // ordered: legend and colours by category value
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]) || (options.log_x && x[i] <= 0) || (options.log_y && y[i] <= 0))
      continue;
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
    ymin = std::min(ymin, y[i]);
    ymax = std::max(ymax, y[i]);
    members[categories.empty() ? 0 : categories[i]].push_back(i);
  }
  std::vector<detail::LegendEntry> legend;
  if (!categories.empty()) {
    std::size_t rank = 0;
    for (const auto& kv : members) {
      const int c = kv.first;
      const std::string name =
          c >= 0 && static_cast<std::size_t>(c) < category_names.size() ? category_names[c] : std::to_string(c);
      legend.push_back({name + " (" + std::to_string(kv.second.size()) + ")", detail::palette_color(rank++), false});
    }
  }
  const auto f = detail::layout(text, legend, detail::make_axis(xmin, xmax, options.log_x),
                                detail::make_axis(ymin, ymax, options.log_y));
  std::string out;
  out.reserve(2048 + 48 * x.size());
  detail::open_svg(out, text);
  detail::draw_axes(out, f, text);
  const std::string r = detail::coord(options.point_radius);
  std::size_t rank = 0;
  for (const auto& kv : members) {
    const std::string color = categories.empty() ? detail::palette_color(0) : legend[rank].color;
    out += "<g class=\"category\" data-category=\"" + std::to_string(kv.first) + "\" data-points=\"" +
           std::to_string(kv.second.size()) + "\" fill=\"" + color + "\" fill-opacity=\"" +
           detail::format_c("%.*f", 2, options.opacity) + "\">\n";
    for (const std::size_t i : kv.second)
      out += "<circle cx=\"" + detail::coord(f.px(x[i])) + "\" cy=\"" + detail::coord(f.py(y[i])) + "\" r=\"" + r +
             "\"/>\n";
    out += "</g>\n";
    ++rank;
  }
  if (members.empty()) detail::draw_no_data(out, f);
  detail::draw_legend(out, f, legend);
  detail::close_svg(out);
  return out;
}

// Columns of a [2+ x N] view (rows 0 and 1 are x and y), e.g. PcaResult::projected.
inline std::string scatter_plot(MatrixView<const double> points,  // [>=2 x N]
                                const std::vector<int>& categories, const std::vector<std::string>& category_names = {},
                                const ScatterOptions& options = {}) {
  SCVAE_CHECK(points.rows >= 2 && points.ld >= points.rows && (points.cols == 0 || points.data != nullptr),
              "scatter_plot: points must have at least 2 rows (x and y)");
  std::vector<double> x(points.cols), y(points.cols);
  for (Index j = 0; j < points.cols; ++j) {
    x[j] = points(0, j);
    y[j] = points(1, j);
  }
  return scatter_plot(x, y, categories, category_names, options);
}

// Paired values, e.g. observed (x) vs. reconstructed (y) mean count per gene. With `diagonal`
// both axes share one range and the line y = x is drawn, so points on it are exact matches;
// use log_x = log_y = true for counts (points with a value <= 0 are then left out, and their
// number is noted under the title).
inline std::string scatter_xy(const std::vector<double>& x, const std::vector<double>& y,
                              const ScatterOptions& options = {}, bool diagonal = true) {
  const auto text = detail::canvas_text(options, "scatter_xy");
  SCVAE_CHECK(x.size() == y.size(), "scatter_xy: x has " + std::to_string(x.size()) + " values, y has " +
                                        std::to_string(y.size()));
  SCVAE_CHECK(options.point_radius > 0 && options.opacity > 0 && options.opacity <= 1,
              "scatter_xy: point_radius must be positive and opacity in (0, 1]");
  SCVAE_CHECK(!diagonal || options.log_x == options.log_y, "scatter_xy: the y = x diagonal needs log_x == log_y");
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (std::size_t i = 0; i < x.size(); ++i) {  // only pairs that can be drawn set the range
    if (!std::isfinite(x[i]) || !std::isfinite(y[i]) || (options.log_x && x[i] <= 0) || (options.log_y && y[i] <= 0))
      continue;
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
    ymin = std::min(ymin, y[i]);
    ymax = std::max(ymax, y[i]);
  }
  if (diagonal) {
    xmin = ymin = std::min(xmin, ymin);
    xmax = ymax = std::max(xmax, ymax);
  }
  const auto f = detail::layout(text, {}, detail::make_axis(xmin, xmax, options.log_x),
                                detail::make_axis(ymin, ymax, options.log_y));
  std::string out;
  out.reserve(2048 + 48 * x.size());
  detail::open_svg(out, text);
  detail::draw_axes(out, f, text);
  std::string body;
  std::size_t drawn = 0;
  const std::string r = detail::coord(options.point_radius);
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!f.accepts(x[i], y[i])) continue;
    body += "<circle cx=\"" + detail::coord(f.px(x[i])) + "\" cy=\"" + detail::coord(f.py(y[i])) + "\" r=\"" + r +
            "\"/>\n";
    ++drawn;
  }
  out += "<g class=\"points\" data-points=\"" + std::to_string(drawn) + "\" fill=\"" + detail::palette_color(0) +
         "\" fill-opacity=\"" + detail::format_c("%.*f", 2, options.opacity) + "\">\n" + body + "</g>\n";
  if (diagonal) {
    // The axes share one domain, so y = x runs corner to corner.
    const double lo = options.log_x ? std::pow(10.0, f.x.lo) : f.x.lo;
    const double hi = options.log_x ? std::pow(10.0, f.x.hi) : f.x.hi;
    out += "<line class=\"diagonal\" x1=\"" + detail::coord(f.px(lo)) + "\" y1=\"" + detail::coord(f.py(lo)) +
           "\" x2=\"" + detail::coord(f.px(hi)) + "\" y2=\"" + detail::coord(f.py(hi)) +
           "\" stroke=\"#d62728\" stroke-width=\"1.2\" stroke-dasharray=\"5,4\"/>\n";
  }
  if (drawn == 0) detail::draw_no_data(out, f);
  if (drawn < x.size())
    out += "<text class=\"skipped\" x=\"" + detail::coord(f.left + f.width) + "\" y=\"" + detail::coord(f.top - 4) +
           "\" text-anchor=\"end\" font-size=\"10\" fill=\"#666666\">" +
           detail::xml_escape(std::to_string(x.size() - drawn) + " points not shown (non-finite" +
                              (options.log_x || options.log_y ? " or <= 0" : "") + ")") +
           "</text>\n";
  detail::close_svg(out);
  return out;
}

// Writes an SVG document atomically (temporary file, then rename). Throws scvae::Error naming
// the file if it cannot be written.
inline void write_svg(const std::string& path, const std::string& svg) {
  detail::write_file_atomic(path, svg, "SVG file");
}

}  // namespace scvae
