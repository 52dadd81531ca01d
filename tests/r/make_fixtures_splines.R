# Reference values for multinom.splines.ns (R's splines::ns).
#
# Run from the repository root:
#     Rscript tests/r/make_fixtures_splines.R
# Writes tests/fixtures/splines_ns.json. R itself is never needed by the tests;
# they only read the JSON file written here.
#
# Each case records the training vector x, the arguments given to ns(), the
# training basis, the knots R chose (attributes "knots" and "Boundary.knots"),
# and predict(basis, newx) on new points, some of them outside the boundary
# knots (linear extrapolation). Error cases record R's error message.

suppressPackageStartupMessages({
  library(splines)
  library(jsonlite)
})

set.seed(20240611)

x_uniform <- round(runif(60, 0, 10), 6)
x_skewed <- round(rexp(80, rate = 0.5), 6)
x_ties <- c(rep(1, 12), rep(2, 9), rep(3, 3), 4:12, rep(12.5, 4), rep(3, 5))
x_ties_min <- c(0, 0, 0, 0, 0, 1, 2, 3)
dates <- as.Date("2019-03-01") + sort(sample(0:1200, 45))
x_dates <- as.numeric(dates)
x_int <- 1:25
x_na <- c(3.2, NA, 1.5, 7.7, 4.4, NA, 9.1, 0.3, 5.5, 6.1, 2.8, 8.8)
x_single <- 5

new_uniform <- c(-2, -0.5, 0, min(x_uniform), 2.5, 5, 7.25, max(x_uniform), 10, 11.5, NA)
new_skewed <- c(-1, 0, min(x_skewed), 0.7, 1.9, 3.3, 6.2, max(x_skewed), max(x_skewed) + 4)
new_ties <- c(0, 1, 1.5, 2, 3, 7.7, 12.5, 14)
new_dates_chr <- c("2018-12-25", "2019-03-01", "2020-07-04", "2021-11-30", "2022-06-14", "2023-01-01")
new_dates <- as.numeric(as.Date(new_dates_chr))
new_int <- c(-3L, 0L, 1L, 7L, 13L, 25L, 30L)
new_na <- c(NA, -1, 0.3, 5, 9.1, 12)
new_single <- c(4, 4.375, 5, 5.625, 6)

# Each case: id, expression for x, the ns() arguments as an R call string
cases <- list(
  list(id = "uniform_df1", x = "x_uniform", args = "df = 1", newx = "new_uniform"),
  list(id = "uniform_df2", x = "x_uniform", args = "df = 2", newx = "new_uniform"),
  list(id = "uniform_df3", x = "x_uniform", args = "df = 3", newx = "new_uniform"),
  list(id = "uniform_df5", x = "x_uniform", args = "df = 5", newx = "new_uniform"),
  list(id = "uniform_default", x = "x_uniform", args = "", newx = "new_uniform"),
  list(id = "uniform_knots", x = "x_uniform", args = "knots = c(2, 5, 7.5)", newx = "new_uniform"),
  list(id = "uniform_knots_unsorted", x = "x_uniform", args = "knots = c(7.5, 2)", newx = "new_uniform"),
  list(id = "uniform_intercept_df1", x = "x_uniform", args = "df = 1, intercept = TRUE", newx = "new_uniform"),
  list(id = "uniform_intercept_df2", x = "x_uniform", args = "df = 2, intercept = TRUE", newx = "new_uniform"),
  list(id = "uniform_intercept_df3", x = "x_uniform", args = "df = 3, intercept = TRUE", newx = "new_uniform"),
  list(id = "uniform_intercept_df5", x = "x_uniform", args = "df = 5, intercept = TRUE", newx = "new_uniform"),
  list(id = "uniform_intercept_knots", x = "x_uniform", args = "knots = c(3, 6), intercept = TRUE", newx = "new_uniform"),
  list(id = "uniform_boundary_narrow", x = "x_uniform", args = "df = 4, Boundary.knots = c(2, 8)", newx = "new_uniform"),
  list(id = "uniform_boundary_narrow_intercept", x = "x_uniform", args = "df = 3, intercept = TRUE, Boundary.knots = c(8, 1.5)", newx = "new_uniform"),
  list(id = "uniform_boundary_wide", x = "x_uniform", args = "df = 3, Boundary.knots = c(-1, 12)", newx = "new_uniform"),
  list(id = "uniform_boundary_knots", x = "x_uniform", args = "knots = c(4, 6), Boundary.knots = c(1, 9)", newx = "new_uniform"),
  list(id = "skewed_df1", x = "x_skewed", args = "df = 1", newx = "new_skewed"),
  list(id = "skewed_df2", x = "x_skewed", args = "df = 2", newx = "new_skewed"),
  list(id = "skewed_df3", x = "x_skewed", args = "df = 3", newx = "new_skewed"),
  list(id = "skewed_df5", x = "x_skewed", args = "df = 5", newx = "new_skewed"),
  list(id = "skewed_df8", x = "x_skewed", args = "df = 8", newx = "new_skewed"),
  list(id = "ties_df3", x = "x_ties", args = "df = 3", newx = "new_ties"),
  list(id = "ties_df5", x = "x_ties", args = "df = 5", newx = "new_ties"),
  list(id = "ties_df7", x = "x_ties", args = "df = 7", newx = "new_ties"),
  list(id = "ties_intercept_df4", x = "x_ties", args = "df = 4, intercept = TRUE", newx = "new_ties"),
  list(id = "ties_at_min_df3", x = "x_ties_min", args = "df = 3", newx = "new_ties"),
  list(id = "ties_at_min_intercept_df3", x = "x_ties_min", args = "df = 3, intercept = TRUE", newx = "new_ties"),
  list(id = "dates_df3", x = "x_dates", args = "df = 3", newx = "new_dates"),
  list(id = "dates_df5", x = "x_dates", args = "df = 5", newx = "new_dates"),
  list(id = "integer_df4", x = "x_int", args = "df = 4", newx = "new_int"),
  list(id = "na_df3", x = "x_na", args = "df = 3", newx = "new_na"),
  list(id = "single_df2", x = "x_single", args = "df = 2", newx = "new_single")
)

error_cases <- list(
  list(id = "knot_above_boundary", x = "x_uniform", args = "knots = c(2, 50)"),
  list(id = "knot_below_boundary", x = "x_uniform", args = "knots = c(-5, 2)"),
  list(id = "knot_at_upper_boundary", x = "x_int", args = "knots = c(25)"),
  list(id = "ties_at_max", x = "c(0, 1, 2, 3, 3, 3, 3, 3)", args = "df = 3"),
  list(id = "constant_x", x = "c(5, 5, 5)", args = "df = 2")
)

to_rows <- function(m) {
  m <- unclass(m)
  lapply(seq_len(nrow(m)), function(i) I(unname(as.numeric(m[i, ]))))
}

make_call <- function(xname, args) {
  if (nzchar(args)) sprintf("ns(%s, %s)", xname, args) else sprintf("ns(%s)", xname)
}

out_cases <- lapply(cases, function(cs) {
  x <- eval(parse(text = cs$x))
  newx <- eval(parse(text = cs$newx))
  call_txt <- make_call("x", cs$args)
  warns <- character()
  b <- withCallingHandlers(
    eval(parse(text = call_txt)),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  p <- predict(b, newx)
  args <- eval(parse(text = sprintf("list(%s)", cs$args)))
  list(
    id = cs$id,
    call = make_call(cs$x, cs$args),
    predict_call = sprintf("predict(%s, %s)", make_call(cs$x, cs$args), cs$newx),
    x = I(as.numeric(x)),
    x_dates = if (identical(cs$x, "x_dates")) format(dates) else NULL,
    newx_dates = if (identical(cs$newx, "new_dates")) new_dates_chr else NULL,
    df = if (is.null(args$df)) NULL else args$df,
    knots_arg = if (is.null(args$knots)) NULL else I(args$knots),
    intercept = if (is.null(args$intercept)) FALSE else args$intercept,
    r_warning = if (length(warns)) paste(warns, collapse = "; ") else NULL,
    boundary_knots_arg = if (is.null(args$Boundary.knots)) NULL else args$Boundary.knots,
    ncol = ncol(b),
    knots = I(as.numeric(attr(b, "knots"))),
    boundary_knots = as.numeric(attr(b, "Boundary.knots")),
    basis = to_rows(b),
    newx = I(as.numeric(newx)),
    predict = to_rows(p)
  )
})

out_errors <- lapply(error_cases, function(cs) {
  x <- eval(parse(text = cs$x))
  call_txt <- make_call("x", cs$args)
  msg <- tryCatch({
    eval(parse(text = call_txt))
    NA_character_
  }, error = function(e) conditionMessage(e))
  args <- eval(parse(text = sprintf("list(%s)", cs$args)))
  list(
    id = cs$id,
    call = make_call(cs$x, cs$args),
    x = I(as.numeric(x)),
    df = if (is.null(args$df)) NULL else args$df,
    knots_arg = if (is.null(args$knots)) NULL else I(args$knots),
    r_error = msg,
    r_error_note = if (is.na(msg)) {
      "R gives no error here but silently builds a basis whose knot sequence no longer starts with the boundary knots"
    } else NULL
  )
})

res <- list(
  provenance = list(
    generator = "tests/r/make_fixtures_splines.R",
    r_version = R.version.string,
    splines_version = as.character(packageVersion("splines")),
    jsonlite_version = as.character(packageVersion("jsonlite")),
    seed = 20240611L,
    note = paste(
      "basis and predict are row-major matrices; NA is stored as null.",
      "x_dates are as.numeric(Date) (days since 1970-01-01).",
      "Numbers are written with 15 significant digits (jsonlite's maximum)."
    )
  ),
  cases = out_cases,
  error_cases = out_errors
)

dir.create("tests/fixtures", showWarnings = FALSE, recursive = TRUE)
writeLines(
  toJSON(res, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE),
  "tests/fixtures/splines_ns.json"
)
cat("wrote tests/fixtures/splines_ns.json with", length(out_cases), "cases and",
    length(out_errors), "error cases\n")
