## Reference fixtures for the multinom test suite, written by R's nnet::multinom.
##
## Run from the repository root:
##
##     Rscript tests/r/make_fixtures_core.R
##
## Writes one JSON per case into tests/fixtures/ and the datasets (and small
## prediction data sets) as CSV into tests/fixtures/data/.  The Python tests
## only read these files; they never need R.  See tests/fixtures/README.md for
## the JSON schema.
##
## This script only *calls* nnet (GPL); none of its code is copied anywhere.

suppressPackageStartupMessages({
  library(nnet)
  library(jsonlite)
})

if (!file.exists(file.path("tests", "r", "make_fixtures_core.R")))
  stop("run this script from the repository root: Rscript tests/r/make_fixtures_core.R")

FIX_DIR  <- file.path("tests", "fixtures")
DATA_DIR <- file.path(FIX_DIR, "data")
dir.create(DATA_DIR, recursive = TRUE, showWarnings = FALSE)

## Every model is fitted with these control settings (appended to each call).
CONTROL <- "reltol = 1e-16, maxit = 10000, MaxNWts = 1e6, trace = FALSE"
## After Newton polishing (see polish_fit) one more Newton step must move no
## coefficient by more than this (relative to max(|coef|, its SE)).
NEWTON_TOL <- 1e-11

RUN_DATE <- format(Sys.Date())
`%||%` <- function(a, b) if (is.null(a)) b else a
empty_object <- function() setNames(list(), character(0))  # -> {} in JSON

## --------------------------------------------------------------------------
## helpers: data
## --------------------------------------------------------------------------

## Write a data frame as CSV (factors as strings, NA as "NA"), read it back and
## check that the file reproduces the data exactly, so R and Python fit the
## same numbers.  Returns the file name relative to tests/fixtures/data.
write_data <- function(df, file) {
  path <- file.path(DATA_DIR, file)
  write.csv(df, path, row.names = FALSE, na = "NA")
  back <- read.csv(path, stringsAsFactors = FALSE, check.names = FALSE)
  stopifnot(identical(names(back), names(df)), nrow(back) == nrow(df))
  for (v in names(df)) {
    a <- df[[v]]; b <- back[[v]]
    ok <- if (is.factor(a) || is.character(a)) identical(as.character(a), as.character(b))
          else identical(as.numeric(a), as.numeric(b))
    if (!ok) stop(sprintf("%s: column %s does not survive the CSV round trip", file, v))
  }
  file
}

factor_levels_of <- function(df) {
  f <- Filter(is.factor, df)
  if (!length(f)) return(empty_object())
  lapply(f, function(x) I(levels(x)))
}
ordered_of <- function(df) I(names(Filter(is.ordered, df)))

## --------------------------------------------------------------------------
## helpers: fitting and derived quantities
## --------------------------------------------------------------------------

## Evaluate the R call (text) in an environment holding the named data sets.
## The formula's environment is that environment, so model.matrix(fit) (used
## by multinomHess) can re-evaluate the call later.
fit_call <- function(call_text, env_objects) {
  e <- list2env(env_objects, parent = globalenv())
  fit <- eval(parse(text = call_text)[[1L]], e)
  if (fit$convergence != 0) stop("multinom did not converge: ", call_text)
  fit
}

with_control <- function(call_head) sprintf("multinom(%s, %s)", call_head, CONTROL)

fit_levels <- function(fit) fit$lev %||% fit$lab
is_binary <- function(fit) is.null(dim(coef(fit)))

## coefficients as (K-1) x p matrix (binary: 1 x p)
coef_matrix <- function(fit) {
  b <- coef(fit)
  if (is.null(dim(b))) t(as.matrix(b)) else b
}
## level-major vector ("B:(Intercept)", "B:x", ..., "C:(Intercept)", ...)
level_major <- function(m) as.vector(t(m))

## n x K fitted probabilities (binary: cbind(1 - p, p))
fitted_matrix <- function(fit) {
  P <- fitted(fit)
  if (is_binary(fit)) P <- cbind(1 - P[, 1L], P[, 1L])
  colnames(P) <- fit_levels(fit)
  P
}

## Inverse of a symmetric positive definite matrix with symmetric diagonal
## equilibration: mathematically solve(H), but it does not trip over badly
## scaled predictors (solve() refuses when rcond < .Machine$double.eps).
inv_equilibrated <- function(H) {
  d <- 1 / sqrt(diag(H))
  A <- H * outer(d, d)
  V <- chol2inv(chol(A)) * outer(d, d)
  dimnames(V) <- dimnames(H)
  V
}

## Independent re-implementation of the observed information (for checking
## multinomHess and documenting the formula):
##   H = sum_i r_i * (diag(pi_i) - pi_i pi_i') (x) z_i z_i'
## with pi_i the non-baseline probabilities, (x) the Kronecker product; rows
## and columns in level-major order.
information_by_formula <- function(probs, Z, row_totals) {
  probs <- as.matrix(probs); Z <- as.matrix(Z)
  k <- ncol(probs); p <- ncol(Z)
  H <- matrix(0, k * p, k * p)
  for (a in seq_len(k)) for (b in seq_len(k)) {
    wab <- row_totals * (if (a == b) probs[, a] else 0) - row_totals * probs[, a] * probs[, b]
    H[(a - 1) * p + seq_len(p), (b - 1) * p + seq_len(p)] <- crossprod(Z, wab * Z)
  }
  H
}

## Gradient of nnet's objective deviance/2 + decay * sum(coef^2) and one
## Newton step from the current coefficients.
newton_step <- function(fit, decay = 0) {
  H <- nnet:::multinomHess(fit)
  Z <- model.matrix(fit)
  w <- as.vector(fit$weights)
  R <- as.matrix(fit$residuals)             # y (proportions) - fitted
  if (!is_binary(fit)) R <- R[, -1L, drop = FALSE]
  score <- crossprod(Z, w * R)              # p x (K-1): level-major when vectorised
  b <- level_major(coef_matrix(fit))
  grad <- -as.vector(score) + 2 * decay * b
  Hp <- H + 2 * decay * diag(nrow(H))
  step <- as.vector(inv_equilibrated(Hp) %*% grad)
  se <- sqrt(diag(inv_equilibrated(Hp)))
  ## step relative to |coef|, or to its standard error when that is larger
  ## (scale free, and meaningful for coefficients near 0)
  list(step = step, b = b,
       gradient_max_abs = max(abs(grad)),
       newton_step_max_rel = max(abs(step) / pmax(abs(b), se)))
}

## The inputs of nnet's network for the rows used: model matrix and offset.
net_inputs <- function(fit) {
  X <- model.matrix(fit)
  off <- model.offset(model.frame(fit))
  if (!is.null(off)) X <- cbind(X, off)
  X
}

## Put coefficients b (level-major) into an nnet fit and recompute what nnet
## would have computed there: fitted values, residuals, value, deviance, AIC.
## Evaluates the network exactly like nnet does (bias + inputs, the fixed
## offset weights, softmax or logistic output).
set_coef <- function(fit, b, decay = 0) {
  X <- net_inputs(fit)
  nout <- fit$n[3L]
  r <- length(fit$vcoefnames)
  W <- matrix(fit$wts, nrow = nout, byrow = TRUE)    # per output: bias, inputs
  if (is_binary(fit)) W[1L, 1L + seq_len(r)] <- b
  else W[-1L, 1L + seq_len(r)] <- matrix(b, ncol = r, byrow = TRUE)
  eta <- X %*% t(W[, -1L, drop = FALSE]) + matrix(W[, 1L], nrow(X), nout, byrow = TRUE)
  Y <- fit$residuals + fit$fitted.values
  w <- as.vector(fit$weights)
  if (fit$softmax) {
    P <- exp(eta - apply(eta, 1L, max)); P <- P / rowSums(P)
    err <- -sum(w * ifelse(Y > 0, Y * log(P), 0))
  } else {
    P <- 1 / (1 + exp(-eta))
    err <- -sum(w * ifelse(Y > 0, Y * log(P), 0) + w * ifelse(Y < 1, (1 - Y) * log(1 - P), 0))
  }
  dimnames(P) <- dimnames(fit$fitted.values)
  fit$wts <- as.vector(t(W))
  fit$fitted.values <- P
  fit$residuals <- Y - P
  fit$value <- err + decay * sum(fit$wts^2)
  fit$deviance <- 2 * fit$value
  fit$AIC <- fit$deviance + 2 * fit$edf
  fit
}

## nnet's BFGS stops when the objective no longer changes in floating point,
## which leaves coefficients accurate to only ~1e-7 relative (up to ~1e-6 with
## reltol = 1e-14).  Polish with Newton steps on the gradient so the stored
## coefficients are the MLE to ~1e-12; everything stored is recomputed at the
## polished coefficients, nnet's own coefficients are kept as coef_nnet.
polish_fit <- function(fit, name, decay = 0) {
  ## check that set_coef reproduces nnet at nnet's own solution
  same <- set_coef(fit, level_major(coef_matrix(fit)), decay)
  stopifnot(max(abs(same$fitted.values - fit$fitted.values)) < 1e-13,
            abs(same$value - fit$value) < 1e-10 * fit$value)
  before <- newton_step(fit, decay)
  pol <- fit
  for (i in 1:3) {
    ns <- newton_step(pol, decay)
    pol <- set_coef(pol, ns$b - ns$step, decay)
  }
  after <- newton_step(pol, decay)
  if (after$newton_step_max_rel > NEWTON_TOL)
    stop(sprintf("%s: Newton polishing did not converge (step %.3g)", name,
                 after$newton_step_max_rel))
  if (before$newton_step_max_rel > 1e-5)
    stop(sprintf("%s: nnet's solution is far from the optimum (Newton step %.3g)",
                 name, before$newton_step_max_rel))
  b0 <- level_major(coef_matrix(fit)); b1 <- level_major(coef_matrix(pol))
  list(fit = pol, raw = fit,
       info = list(nnet_convergence = fit$convergence,
                   nnet_gradient_max_abs = before$gradient_max_abs,
                   nnet_newton_step_max_rel = before$newton_step_max_rel,
                   polished_gradient_max_abs = after$gradient_max_abs,
                   polished_newton_step_max_rel = after$newton_step_max_rel,
                   coef_change_max_abs = max(abs(b1 - b0)),
                   coef_change_max_rel = max(abs(b1 - b0) / abs(b1)),
                   deviance_change = fit$deviance - pol$deviance))
}

## Probabilities for newdata computed by hand (includes offsets).
predict_by_hand <- function(fit, newdata) {
  tt <- delete.response(terms(fit))
  mf <- model.frame(tt, newdata, xlev = fit$xlevels, na.action = na.pass)
  X <- model.matrix(tt, mf, contrasts.arg = fit$contrasts)
  off <- model.offset(mf)
  B <- coef_matrix(fit)
  eta <- cbind(0, X %*% t(B))
  if (!is.null(off)) {
    if (is.matrix(off)) eta <- eta + off else eta[, 2L] <- eta[, 2L] + off
  }
  P <- exp(eta - apply(eta, 1L, max))
  P <- P / rowSums(P)
  colnames(P) <- fit_levels(fit)
  P
}

predict_nnet <- function(fit, newdata) {
  P <- predict(fit, newdata, type = "probs")
  if (is_binary(fit)) P <- cbind(1 - P, P)
  P <- as.matrix(P)
  if (is.null(dim(P)) || nrow(P) != nrow(newdata)) P <- matrix(P, nrow = nrow(newdata))
  colnames(P) <- fit_levels(fit)
  P
}

## --------------------------------------------------------------------------
## helper: assemble and write one fixture
## --------------------------------------------------------------------------

write_fixture <- function(fx) {
  path <- file.path(FIX_DIR, paste0(fx$name, ".json"))
  fx <- Filter(Negate(is.null), fx)
  write_json(fx, path, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
  message(sprintf("wrote %-40s (%6.1f kB)", path, file.size(path) / 1024))
  invisible(path)
}

provenance <- function(call_text, notes = NULL) {
  c(list(R = R.version.string,
         nnet = as.character(packageVersion("nnet")),
         jsonlite = as.character(packageVersion("jsonlite")),
         call = call_text,
         date = RUN_DATE,
         script = "tests/r/make_fixtures_core.R"),
    notes)
}

## name, description: strings
## call_head:   the multinom() arguments as R text, without the control settings
## env_objects: named list of the objects the call refers to (data sets, ...)
## data, data_csv: the data frame the model is fitted to and its CSV name
## formula:     the R formula (text); python_formula: the formula for Python
## python:      keyword arguments for multinom.multinom(formula, data, **python)
## newdata:     a few rows for predict() (NULL: no prediction)
## decay:       the decay used (for the penalised Hessian / diagnostics)
## offset:      TRUE if the model has an offset (nnet's predict() is broken then)
## extra:       further fields
make_fixture <- function(name, description, call_head, env_objects, data, data_csv,
                         formula, python = empty_object(), python_formula = formula,
                         newdata = NULL, decay = 0, offset = FALSE, extra = list(),
                         provenance_notes = NULL) {
  call_text <- with_control(call_head)
  pf <- polish_fit(fit_call(call_text, env_objects), name, decay)
  fx <- fixture_from_fit(pf$fit, name, description, call_text, data, data_csv, formula,
                         python, python_formula, newdata, decay, offset,
                         provenance_notes)
  fx$coef_nnet <- if (is_binary(pf$raw)) I(coef(pf$raw)) else coef(pf$raw)
  fx$deviance_nnet <- pf$raw$deviance
  fx$convergence <- pf$info
  fx <- c(fx, extra)
  write_fixture(fx)
  invisible(list(fit = pf$fit, raw = pf$raw, fx = fx))
}

fixture_from_fit <- function(fit, name, description, call_text, data, data_csv, formula,
                             python, python_formula, newdata, decay, offset,
                             provenance_notes = NULL) {
  binary <- is_binary(fit)
  lev <- fit_levels(fit)
  B <- coef_matrix(fit)
  H <- nnet:::multinomHess(fit)
  hnames <- rownames(H)
  stopifnot(identical(hnames, colnames(H)))
  ## nnet's level-major order: "B:(Intercept)", "B:x", ..., "C:(Intercept)", ...
  expect_names <- if (binary) colnames(B) else
    as.vector(t(outer(rownames(B), colnames(B), paste, sep = ":")))
  stopifnot(identical(hnames, expect_names))

  Z <- model.matrix(fit)
  P <- fitted_matrix(fit)
  w <- as.vector(fit$weights)
  ## multinomHess == the closed-form information (documents the formula)
  H2 <- information_by_formula(P[, -1L, drop = FALSE], Z, w)
  stopifnot(max(abs(H - H2)) <= 1e-10 * max(abs(H)))

  V <- inv_equilibrated(H)
  se <- sqrt(diag(V))
  b <- level_major(B)
  z <- b / se
  pval <- 2 * pnorm(-abs(z))
  se_summary <- summary(fit)$standard.errors
  se_summary <- if (binary) as.vector(se_summary) else level_major(se_summary)

  ## deviance without the decay penalty: -2 * sum_i w_i sum_k y_ik log p_ik
  Y <- as.matrix(fit$residuals + fit$fitted.values)
  if (binary) Y <- cbind(1 - Y[, 1L], Y[, 1L])
  dev_unpen <- -2 * sum(w * ifelse(Y > 0, Y * log(P), 0))
  penalty <- decay * sum(fit$wts^2)   # nnet penalises *all* weights

  ll <- logLik(fit)
  fx <- list(
    name = name,
    description = description,
    provenance = provenance(call_text, provenance_notes),
    data_csv = data_csv,
    n_rows_data = nrow(data),
    factor_levels = factor_levels_of(data),
    ordered_factors = ordered_of(data),
    formula = formula,
    python_formula = python_formula,
    python = python,
    binary = binary,
    levels = I(lev),
    coef_names = I(colnames(B)),
    coef = if (binary) I(as.vector(B)) else B,
    deviance = fit$deviance,
    deviance_unpenalised = dev_unpen,
    loglik = as.numeric(ll),
    nobs_loglik = attr(ll, "nobs"),
    edf = fit$edf,
    AIC = fit$AIC,
    decay = decay,
    fitted = P,
    fitted_note = if (binary)
      "nnet returns only P(second level) for a binary response; stored here as the full n x 2 matrix cbind(1 - p, p)" else NULL,
    nobs_used = nrow(Z),
    rows_used = I(as.integer(rownames(Z))),
    n_dropped_na = length(fit$na.action),
    weights_used = I(w),
    hessian = H,
    hessian_names = I(hnames),
    vcov = V,
    se = I(se),
    z = I(z),
    p_value = I(pval),
    se_nnet_summary = I(se_summary),
    se_nnet_summary_max_rel_diff = max(abs(se_summary - se) / se)
  )
  if (decay > 0) {
    fx$hessian_penalised <- H + 2 * decay * diag(nrow(H))
    Vp <- inv_equilibrated(fx$hessian_penalised)
    fx$se_penalised <- I(sqrt(diag(Vp)))
    fx$penalty <- penalty
    stopifnot(abs(fit$deviance - (dev_unpen + 2 * penalty)) < 1e-8 * fit$deviance)
  } else {
    stopifnot(abs(fit$deviance - dev_unpen) < 1e-9 * fit$deviance)
  }

  if (!is.null(newdata)) {
    nd_name <- paste0(name, "_newdata.csv")
    fx$predict_newdata_csv <- write_data(newdata, nd_name)
    by_hand <- predict_by_hand(fit, newdata)
    if (offset) {
      ## nnet::predict.multinom builds a model matrix WITHOUT the offset
      ## columns, but the network still has the offset inputs, so the C code
      ## reads past the end of the input array: the result is garbage (not
      ## "prediction without offset").  Stored only to document this.
      fx$predict_probs <- by_hand
      fx$predict_probs_nnet_no_offset <- predict_nnet(fit, newdata)
      tt <- delete.response(terms(fit))
      mf <- model.frame(tt, newdata, xlev = fit$xlevels)
      X <- model.matrix(tt, mf, contrasts.arg = fit$contrasts)
      eta <- cbind(0, X %*% t(B))
      Pn <- exp(eta) / rowSums(exp(eta)); colnames(Pn) <- lev
      fx$predict_probs_without_offset <- Pn
      fx$predict_note <- paste(
        "predict_probs are the correct probabilities with the offset included,",
        "computed by hand in R from coef and the newdata offset columns.",
        "predict_probs_nnet_no_offset is what predict(fit, newdata, type = 'probs')",
        "returned in this run. nnet drops the offset from the newdata model matrix,",
        "but the network still has the offset inputs, so its C code reads ncol(X) + K",
        "(binary: + 1) values per row from an array with only ncol(X): it reads past",
        "the end of the array (undefined behaviour). The memory after the array is",
        "often zero, so the result usually equals the probabilities WITHOUT offset",
        "(predict_probs_without_offset, computed by hand), but not always: after",
        "other allocations in the same session the same call returned values off by",
        "~0.015. Neither is a correct prediction; do not test against them.")
    } else {
      Pp <- predict_nnet(fit, newdata)
      stopifnot(max(abs(Pp - by_hand)) < 1e-12)
      fx$predict_probs <- Pp
    }
  }
  fx
}

## The input of multinom.information_matrix(probs, Z, row_totals) that
## reproduces nnet:::multinomHess(fit) exactly.
make_information_fixture <- function(name, from, res) {
  fit <- res$fit
  Z <- model.matrix(fit)
  P <- fitted_matrix(fit)[, -1L, drop = FALSE]
  r <- as.vector(fit$weights)
  H <- nnet:::multinomHess(fit)
  stopifnot(max(abs(information_by_formula(P, Z, r) - H)) <= 1e-10 * max(abs(H)))
  fx <- list(
    name = name,
    description = paste0(
      "Inputs and output of nnet:::multinomHess for the '", from, "' fit, for ",
      "parity of multinom.information_matrix(probs, Z, row_totals). probs are the ",
      "fitted probabilities without the baseline column (n x (K-1); binary: n x 1 ",
      "holding P(second level)); Z = model.matrix(fit); row_totals = fit$weights, ",
      "which is what multinomHess uses: the prior weights for a factor response, ",
      "and prior weights times the row totals of the count matrix for a ",
      "cbind(...) response."),
    provenance = provenance("nnet:::multinomHess(fit)",
                            list(fit_call = res$fx$provenance$call)),
    source_fixture = from,
    levels = I(fit_levels(fit)),
    coef_names = I(colnames(coef_matrix(fit))),
    Z = Z,
    probs = P,
    row_totals = I(r),
    hessian = H,
    hessian_names = I(rownames(H))
  )
  write_fixture(fx)
}

## --------------------------------------------------------------------------
## simulation helper
## --------------------------------------------------------------------------

## Draw a categorical response from linear predictors eta (n x K, first column
## the baseline) with labels labs.
draw_response <- function(eta, labs) {
  P <- exp(eta - apply(eta, 1L, max)); P <- P / rowSums(P)
  u <- runif(nrow(P))
  idx <- 1L + rowSums(u > t(apply(P, 1L, cumsum))[, -ncol(P), drop = FALSE])
  factor(labs[idx], levels = labs)
}

## ==========================================================================
## Cases
## ==========================================================================

## --- housing: MASS::housing, frequency weights ----------------------------
housing <- MASS::housing
housing_csv <- write_data(housing, "housing.csv")
housing_fml <- "Sat ~ Infl + Type + Cont"
res_housing <- make_fixture(
  "housing",
  "MASS::housing (Copenhagen housing survey), satisfaction (3 levels) on influence, house type and contact, one row per cell with frequency weights Freq. Sat is an ordered factor in MASS (irrelevant for a response); the predictors are plain factors (treatment contrasts).",
  sprintf("%s, data = housing, weights = Freq", housing_fml),
  list(housing = housing), housing, housing_csv, housing_fml,
  python = list(weights = "Freq"),
  newdata = housing[c(1, 13, 40, 64, 70), c("Infl", "Type", "Cont")],
  provenance_notes = list(MASS = as.character(packageVersion("MASS"))))

## --- housing_counts: the same table, wide, count-matrix response -----------
hw <- reshape(housing, idvar = c("Infl", "Type", "Cont"), timevar = "Sat",
              direction = "wide")
names(hw) <- sub("^Freq\\.", "", names(hw))
hw <- hw[, c("Infl", "Type", "Cont", "Low", "Medium", "High")]
rownames(hw) <- NULL
hw_csv <- write_data(hw, "housing_counts.csv")
hw_fml <- "cbind(Low, Medium, High) ~ Infl + Type + Cont"
res_hw <- make_fixture(
  "housing_counts",
  "MASS::housing reshaped wide: one row per Infl x Type x Cont cell with the counts of Low/Medium/High satisfaction as a count-matrix response. Same model as 'housing': coef, deviance, logLik and Hessian agree (checked in R). For a count matrix nnet divides each row by its total and uses weights * row total as case weights (fit$weights), and the deviance is -2 * sum(counts * log(p)), i.e. the same as for the individual-level data, NOT the deviance against the saturated model.",
  sprintf("%s, data = hw", hw_fml),
  list(hw = hw), hw, hw_csv, hw_fml,
  newdata = hw[c(1, 5, 12, 24), c("Infl", "Type", "Cont")],
  extra = list(equivalent_to = "housing"),
  provenance_notes = list(MASS = as.character(packageVersion("MASS")),
                          data = "reshape(MASS::housing, idvar = c('Infl','Type','Cont'), timevar = 'Sat', direction = 'wide')"))
stopifnot(
  max(abs(coef(res_hw$fit) - coef(res_housing$fit))) < 1e-6,
  abs(res_hw$fit$deviance - res_housing$fit$deviance) < 1e-8 * res_housing$fit$deviance,
  max(abs(res_hw$fx$hessian - res_housing$fx$hessian)) < 1e-6 * max(abs(res_housing$fx$hessian)))

## --- beps: carData::BEPS, individual level, numeric + factor + interaction --
beps <- carData::BEPS
names(beps) <- gsub(".", "_", names(beps), fixed = TRUE)
beps_csv <- write_data(beps, "beps.csv")
beps_fml <- "vote ~ age + economic_cond_national + gender * Europe"
beps_new <- beps[c(1, 2, 100, 500, 1000, 1525), c("age", "economic_cond_national", "gender", "Europe")]
res_beps <- make_fixture(
  "beps",
  "carData::BEPS (British Election Panel Study 1997-2001, 1525 respondents): vote (Conservative, Labour, Liberal Democrat) on age, national economic conditions, gender, attitude to Europe and the gender x Europe interaction. Column names with dots are renamed to underscores.",
  sprintf("%s, data = beps", beps_fml),
  list(beps = beps), beps, beps_csv, beps_fml,
  newdata = beps_new,
  provenance_notes = list(carData = as.character(packageVersion("carData")),
                          data = "carData::BEPS with '.' in column names replaced by '_'"))

## --- binary: carData::Womenlf, working vs not working -------------------------
wlf <- carData::Womenlf
wlf$work <- factor(ifelse(wlf$partic == "not.work", "not.work", "working"),
                   levels = c("not.work", "working"))
wlf <- wlf[, c("work", "partic", "hincome", "children", "region")]
wlf_csv <- write_data(wlf, "womenlf.csv")
wlf_fml <- "work ~ hincome + children + region"
res_binary <- make_fixture(
  "binary",
  "carData::Womenlf (Canadian women's labour-force participation, 263 women): partic collapsed to a two-level factor work (not.work < working) on husband's income (numeric), children (factor) and region (5-level factor). For two levels nnet returns coef as a vector (coefficients of P(working)) and fitted as a vector of P(working); the Hessian names are the plain term names.",
  sprintf("%s, data = wlf", wlf_fml),
  list(wlf = wlf), wlf, wlf_csv, wlf_fml,
  newdata = wlf[c(1, 8, 50, 120, 200, 263), c("hincome", "children", "region")],
  provenance_notes = list(carData = as.character(packageVersion("carData")),
                          data = "carData::Womenlf with work <- factor(ifelse(partic == 'not.work', 'not.work', 'working'))"))

## --- numeric_response: integer-coded 0/1/2 response ----------------------------
set.seed(20240101)
n <- 250
nr <- data.frame(x1 = round(rnorm(n), 4), x2 = round(runif(n, 0, 10), 3))
nr$y <- as.integer(as.character(draw_response(
  cbind(0, -0.2 + 0.8 * nr$x1, 0.5 - 0.6 * nr$x1 - 0.1 * nr$x2), c("0", "1", "2"))))
nr <- nr[, c("y", "x1", "x2")]
nr_csv <- write_data(nr, "numeric_response.csv")
nr_fml <- "y ~ x1 + x2"
make_fixture(
  "numeric_response",
  "Simulated (set.seed(20240101), n = 250): response y stored as integers 0/1/2, which multinom turns into a factor with levels '0','1','2' (baseline '0'); numeric predictors x1, x2.",
  sprintf("%s, data = nr", nr_fml),
  list(nr = nr), nr, nr_csv, nr_fml,
  newdata = data.frame(x1 = c(-1.5, 0, 0.7, 2), x2 = c(0, 5, 9.5, 2.25)))

## --- weights_sim / weights_int / weights_dup: frequency weights ----------------
set.seed(20240102)
n <- 300
ws <- data.frame(x = round(rnorm(n), 4),
                 g = factor(sample(c("a", "b", "c"), n, replace = TRUE)))
ws$y <- draw_response(cbind(0,
                            0.3 + 0.7 * ws$x,
                            -0.4 + 0.9 * (ws$g == "b") - 0.5 * ws$x,
                            0.2 + 0.6 * (ws$g == "c") + 0.3 * ws$x),
                      c("A", "B", "C", "D"))
ws$w <- round(runif(n, 0.1, 3), 2)        # non-integer positive weights
ws$wi <- sample(1:4, n, replace = TRUE)   # integer weights for the dup check
ws <- ws[, c("y", "x", "g", "w", "wi")]
ws_csv <- write_data(ws, "weights_sim.csv")
ws_fml <- "y ~ x + g"
ws_new <- data.frame(x = c(-1, 0, 0.5, 2), g = factor(c("a", "b", "c", "b"), levels = c("a", "b", "c")))
res_ws <- make_fixture(
  "weights_sim",
  "Simulated (set.seed(20240102), n = 300), K = 4 levels A-D, numeric x and 3-level factor g, non-integer positive case weights w in [0.1, 3]. logLik's nobs is sum(w).",
  sprintf("%s, data = ws, weights = w", ws_fml),
  list(ws = ws), ws, ws_csv, ws_fml,
  python = list(weights = "w"), newdata = ws_new)

res_wi <- make_fixture(
  "weights_int",
  "Same simulated data as 'weights_sim' fitted with the integer weights wi (1-4); equivalent to 'weights_dup' where each row is repeated wi times (checked in R).",
  sprintf("%s, data = ws, weights = wi", ws_fml),
  list(ws = ws), ws, ws_csv, ws_fml,
  python = list(weights = "wi"), newdata = ws_new,
  extra = list(equivalent_to = "weights_dup"))

wd <- ws[rep(seq_len(nrow(ws)), ws$wi), c("y", "x", "g")]
rownames(wd) <- NULL
wd_csv <- write_data(wd, "weights_dup.csv")
res_wd <- make_fixture(
  "weights_dup",
  "The 'weights_int' data with each row repeated wi times and no weights: coef, deviance, logLik, Hessian and SEs equal those of 'weights_int' (frequency-weight semantics, checked in R); nobs_used differs (sum(wi) rows vs 300).",
  sprintf("%s, data = wd", ws_fml),
  list(wd = wd), wd, wd_csv, ws_fml,
  newdata = ws_new,
  extra = list(equivalent_to = "weights_int"),
  provenance_notes = list(data = "ws[rep(seq_len(nrow(ws)), ws$wi), c('y', 'x', 'g')]"))
stopifnot(
  max(abs(coef(res_wi$fit) - coef(res_wd$fit))) < 1e-6,
  abs(res_wi$fit$deviance - res_wd$fit$deviance) < 1e-8 * res_wd$fit$deviance,
  max(abs(res_wi$fx$se - res_wd$fx$se) / res_wd$fx$se) < 1e-5)

## --- decay: beps with weight decay 0.1 -------------------------------------------
res_decay <- make_fixture(
  "decay",
  "The 'beps' model with decay = 0.1. nnet minimises deviance/2 + decay * sum(all coefficients^2), intercepts included, unscaled by the weights or n. nnet's fit$deviance (and so logLik and AIC) INCLUDE the penalty: deviance = deviance_unpenalised + 2 * penalty. nnet:::multinomHess ignores the decay (hessian, se are from it as is); hessian_penalised = hessian + 2 * decay * I is the Hessian of nnet's objective deviance/2 + decay * sum(coef^2); se_penalised = sqrt(diag(solve(hessian_penalised))).",
  sprintf("%s, data = beps, decay = 0.1", beps_fml),
  list(beps = beps), beps, beps_csv, beps_fml,
  python = list(decay = 0.1), newdata = beps_new, decay = 0.1)

## --- offset: K = 3 with an n x K offset matrix --------------------------------
set.seed(20240103)
n <- 300
od <- data.frame(x = round(rnorm(n), 4),
                 g = factor(sample(c("a", "b"), n, replace = TRUE)),
                 off_a = round(rnorm(n, 0, 0.5), 4),
                 off_b = round(runif(n, -1, 1), 4),
                 off_c = round(rnorm(n, 0.2, 0.5), 4))
od$y <- draw_response(cbind(0, 0.5 + od$x, -0.3 + 0.8 * (od$g == "b")) +
                        as.matrix(od[, c("off_a", "off_b", "off_c")]),
                      c("A", "B", "C"))
od <- od[, c("y", "x", "g", "off_a", "off_b", "off_c")]
od_csv <- write_data(od, "offset.csv")
make_fixture(
  "offset",
  "Simulated (set.seed(20240103), n = 300), K = 3 with an n x K offset matrix given as offset(cbind(off_a, off_b, off_c)) in the formula: eta_k = x'b_k + off_k for every level k including the baseline (b_A = 0), so only off_k - off_a matters. multinom's offset= ARGUMENT is silently ignored by nnet (it disappears into '...'); only offset() in the formula works. predict() with newdata is broken for offset fits (see predict_note).",
  "y ~ x + g + offset(cbind(off_a, off_b, off_c)), data = od",
  list(od = od), od, od_csv, "y ~ x + g + offset(cbind(off_a, off_b, off_c))",
  python_formula = "y ~ x + g",
  python = list(offset = I(c("off_a", "off_b", "off_c"))),
  newdata = od[c(1, 2, 3, 4, 150, 300), c("x", "g", "off_a", "off_b", "off_c")],
  offset = TRUE)

set.seed(20240104)
n <- 300
ob <- data.frame(x = round(rnorm(n), 4),
                 g = factor(sample(c("a", "b", "c"), n, replace = TRUE)),
                 off = round(log(runif(n, 0.5, 3)), 4))
ob$y <- draw_response(cbind(0, -0.2 + 0.9 * ob$x + 0.6 * (ob$g == "c") + ob$off), c("no", "yes"))
ob <- ob[, c("y", "x", "g", "off")]
ob_csv <- write_data(ob, "offset_binary.csv")
make_fixture(
  "offset_binary",
  "Simulated (set.seed(20240104), n = 300), binary response (no < yes) with a length-n offset added to the linear predictor of P(yes): offset(off) in the formula. predict() with newdata is broken for offset fits (see predict_note).",
  "y ~ x + g + offset(off), data = ob",
  list(ob = ob), ob, ob_csv, "y ~ x + g + offset(off)",
  python_formula = "y ~ x + g",
  python = list(offset = "off"),
  newdata = ob[c(1, 2, 3, 100, 300), c("x", "g", "off")],
  offset = TRUE)

## --- na_subset: missing values and a subset ------------------------------------
set.seed(20240105)
n <- 200
ns <- data.frame(x = round(rnorm(n), 4),
                 z = round(runif(n, -1, 2), 4),
                 g = factor(sample(c("a", "b", "c"), n, replace = TRUE)))
ns$y <- draw_response(cbind(0, 0.2 + 0.7 * ns$x, -0.5 + 0.8 * (ns$g == "c") + 0.4 * ns$z),
                      c("A", "B", "C"))
ns$x[c(3, 7, 20, 150)] <- NA
ns$y[c(5, 40, 151)] <- NA
ns$g[c(11, 77)] <- NA
ns <- ns[, c("y", "x", "z", "g")]
ns_csv <- write_data(ns, "na_subset.csv")
res_ns <- make_fixture(
  "na_subset",
  "Simulated (set.seed(20240105), n = 200) with NA in x (rows 3, 7, 20, 150), y (5, 40, 151) and g (11, 77), fitted with subset = z > 0 (z has no NA). R applies the subset first, then na.omit: rows_used are the 1-based rows of the CSV that were used; n_dropped_na counts only the rows of the subset dropped for NA (length(fit$na.action)).",
  "y ~ x + z + g, data = ns, subset = z > 0",
  list(ns = ns), ns, ns_csv, "y ~ x + z + g",
  python = list(subset = "z > 0"),
  newdata = data.frame(x = c(-1, 0, 1.5), z = c(0.5, 1, 1.9),
                       g = factor(c("a", "b", "c"), levels = c("a", "b", "c"))))
stopifnot(identical(res_ns$fx$rows_used,
                    I(which(ns$z > 0 & complete.cases(ns)))))

## --- badly_scaled: predictor in the millions -------------------------------------
set.seed(20240106)
n <- 300
bs <- data.frame(x = round(rnorm(n), 4),
                 g = factor(sample(c("a", "b"), n, replace = TRUE)))
bs$y <- draw_response(cbind(0, 0.3 + 0.8 * bs$x, -0.5 - 0.6 * bs$x + 0.7 * (bs$g == "b")),
                      c("A", "B", "C"))
bs$income <- 5e6 + 1e6 * bs$x             # exact: x has 4 decimals
bs <- bs[, c("y", "income", "g")]
bs_csv <- write_data(bs, "badly_scaled.csv")
res_bs <- make_fixture(
  "badly_scaled",
  "Simulated (set.seed(20240106), n = 300), K = 3, predictor income = 5e6 + 1e6 * x (in the millions, far from 0) and a factor g. summary(fit)'s standard errors come from vcov.multinom, which inverts the Hessian with a ginv that drops singular values below sqrt(eps) times the largest: here that removes the intercept/income directions and the summary SEs are wrong by orders of magnitude (se_nnet_summary vs se). se is computed with symmetric diagonal equilibration (solve() is near its rcond limit here). nnet's BFGS also stops early on this scale (see coef_nnet and convergence); the stored coef are the Newton-polished MLE and agree with the well-scaled fit y ~ I((income - 5e6) / 1e6) + g mapped back (checked in R).",
  "y ~ income + g, data = bs",
  list(bs = bs), bs, bs_csv, "y ~ income + g",
  newdata = data.frame(income = c(3e6, 5e6, 5.5e6, 7.25e6),
                       g = factor(c("a", "b", "a", "b"), levels = c("a", "b"))))
## the same model on a sane scale, mapped back to the income scale
scaled <- polish_fit(fit_call(with_control("y ~ I((income - 5e6) / 1e6) + g, data = bs"),
                              list(bs = bs)), "badly_scaled (rescaled)")$fit
Bs <- coef(scaled)
B_exact <- cbind(Bs[, 1] - 5 * Bs[, 2], Bs[, 2] / 1e6, Bs[, 3])
stopifnot(max(abs(coef(res_bs$fit) - B_exact) / abs(B_exact)) < 1e-9)

## --- information_only: inputs of multinomHess --------------------------------
make_information_fixture("information_only_weights", "weights_sim", res_ws)
make_information_fixture("information_only_counts", "housing_counts", res_hw)
make_information_fixture("information_only_binary", "binary", res_binary)

message("done")
