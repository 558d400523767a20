#pragma once
// Shared drawing of the plots: document frame, axes with grid and ticks, titles and legend.
#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "axis.hpp"
#include "svg_text.hpp"

namespace scvae {
namespace detail {

// 20 distinguishable colours (Tableau 10, then its light variants): cluster i gets colour i.
inline const char* palette_color(std::size_t i) {
  static const char* const colors[20] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                         "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896",
                                         "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"};
  return colors[i % 20];
}

struct LegendEntry {
  std::string name;
  std::string color;
  bool line = false;  // line swatch (series) or dot (category)
};

// Pixel geometry of the plot area and the axes mapping data into it.
struct Frame {
  double left = 0, top = 0, width = 1, height = 1;
  Axis x, y;
  double px(double v) const { return left + x.fraction(v) * width; }
  double py(double v) const { return top + (1.0 - y.fraction(v)) * height; }
  bool accepts(double vx, double vy) const { return x.accepts(vx) && y.accepts(vy); }
};

struct CanvasText {
  std::string title, x_label, y_label;
  int width = 720, height = 480;
};

inline double legend_width(const std::vector<LegendEntry>& legend) {
  if (legend.empty()) return 0.0;
  std::size_t chars = 0;
  for (const auto& e : legend) chars = std::max(chars, e.name.size());
  return std::min(240.0, 34.0 + 6.6 * static_cast<double>(chars));
}

// Places the plot area inside the canvas, leaving room for titles, tick labels and legend.
inline Frame layout(const CanvasText& t, const std::vector<LegendEntry>& legend, const Axis& x, const Axis& y) {
  Frame f;
  f.x = x;
  f.y = y;
  f.left = 74.0;
  f.top = t.title.empty() ? 18.0 : 42.0;
  const double right = legend.empty() ? 24.0 : legend_width(legend) + 30.0;
  const double bottom = t.x_label.empty() ? 34.0 : 54.0;
  f.width = std::max(40.0, t.width - f.left - right);
  f.height = std::max(40.0, t.height - f.top - bottom);
  return f;
}

inline void open_svg(std::string& out, const CanvasText& t) {
  const std::string w = std::to_string(t.width), h = std::to_string(t.height);
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w +
         " " + h + "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  if (!t.title.empty()) out += "<title>" + xml_escape(t.title) + "</title>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

inline void close_svg(std::string& out) { out += "</svg>\n"; }

// Grid, frame, ticks with labels, axis labels and title.
inline void draw_axes(std::string& out, const Frame& f, const CanvasText& t) {
  const std::string l = coord(f.left), r = coord(f.left + f.width), top = coord(f.top),
                    bot = coord(f.top + f.height);
  out += "<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\">\n";
  for (const auto& tk : f.x.ticks)
    out += "<line x1=\"" + coord(f.px(tk.value)) + "\" y1=\"" + top + "\" x2=\"" + coord(f.px(tk.value)) +
           "\" y2=\"" + bot + "\"/>\n";
  for (const auto& tk : f.y.ticks)
    out += "<line x1=\"" + l + "\" y1=\"" + coord(f.py(tk.value)) + "\" x2=\"" + r + "\" y2=\"" +
           coord(f.py(tk.value)) + "\"/>\n";
  out += "</g>\n";
  out += "<rect class=\"frame\" x=\"" + l + "\" y=\"" + top + "\" width=\"" + coord(f.width) + "\" height=\"" +
         coord(f.height) + "\" fill=\"none\" stroke=\"#333333\"/>\n";
  out += "<g class=\"x-ticks\" text-anchor=\"middle\" fill=\"#333333\">\n";
  for (const auto& tk : f.x.ticks) {
    const std::string x = coord(f.px(tk.value));
    out += "<line x1=\"" + x + "\" y1=\"" + bot + "\" x2=\"" + x + "\" y2=\"" + coord(f.top + f.height + 5) +
           "\" stroke=\"#333333\"/>";
    out += "<text x=\"" + x + "\" y=\"" + coord(f.top + f.height + 18) + "\">" + xml_escape(tk.label) + "</text>\n";
  }
  out += "</g>\n<g class=\"y-ticks\" text-anchor=\"end\" fill=\"#333333\">\n";
  for (const auto& tk : f.y.ticks) {
    const std::string y = coord(f.py(tk.value));
    out += "<line x1=\"" + coord(f.left - 5) + "\" y1=\"" + y + "\" x2=\"" + l + "\" y2=\"" + y +
           "\" stroke=\"#333333\"/>";
    out += "<text x=\"" + coord(f.left - 8) + "\" y=\"" + coord(f.py(tk.value) + 4) + "\">" +
           xml_escape(tk.label) + "</text>\n";
  }
  out += "</g>\n";
  if (!t.x_label.empty())
    out += "<text class=\"x-label\" x=\"" + coord(f.left + f.width / 2) + "\" y=\"" +
           coord(f.top + f.height + 42) + "\" text-anchor=\"middle\" font-size=\"13\">" + xml_escape(t.x_label) +
           "</text>\n";
  if (!t.y_label.empty()) {
    const std::string x = "18", y = coord(f.top + f.height / 2);
    out += "<text class=\"y-label\" x=\"" + x + "\" y=\"" + y + "\" transform=\"rotate(-90 " + x + " " + y +
           ")\" text-anchor=\"middle\" font-size=\"13\">" + xml_escape(t.y_label) + "</text>\n";
  }
  if (!t.title.empty())
    out += "<text class=\"plot-title\" x=\"" + coord(t.width / 2.0) + "\" y=\"26\" text-anchor=\"middle\" " +
           "font-size=\"15\" font-weight=\"bold\">" + xml_escape(t.title) + "</text>\n";
}

// Legend in the right margin; entries shrink to fit the plot height.
inline void draw_legend(std::string& out, const Frame& f, const std::vector<LegendEntry>& legend) {
  if (legend.empty()) return;
  const double x0 = f.left + f.width + 14.0;
  const double spacing = std::min(18.0, std::max(6.0, f.height / static_cast<double>(legend.size())));
  const double font = std::min(12.0, spacing - 2.0);
  out += "<g class=\"legend\" font-size=\"" + coord(font) + "\">\n";
  double y = f.top + spacing / 2.0;
  for (const auto& e : legend) {
    if (e.line)
      out += "<line x1=\"" + coord(x0) + "\" y1=\"" + coord(y) + "\" x2=\"" + coord(x0 + 20) + "\" y2=\"" +
             coord(y) + "\" stroke=\"" + e.color + "\" stroke-width=\"2.5\"/>";
    else
      out += "<circle cx=\"" + coord(x0 + 10) + "\" cy=\"" + coord(y) + "\" r=\"" + coord(std::min(5.0, font / 2.4)) +
             "\" fill=\"" + e.color + "\"/>";
    out += "<text x=\"" + coord(x0 + 26) + "\" y=\"" + coord(y + font / 3.0) + "\">" + xml_escape(e.name) +
           "</text>\n";
    y += spacing;
  }
  out += "</g>\n";
}

inline void draw_no_data(std::string& out, const Frame& f) {
  out += "<text class=\"no-data\" x=\"" + coord(f.left + f.width / 2) + "\" y=\"" + coord(f.top + f.height / 2) +
         "\" text-anchor=\"middle\" fill=\"#999999\" font-size=\"14\">no data</text>\n";
}

}  // namespace detail
}  // namespace scvae
