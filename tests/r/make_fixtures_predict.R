## Reference values for predictions with delta-method standard errors
## (multinom's fit.predict(newdata, se=True) and multinom._predict).
##
## Run from the repository root:
##
##     Rscript tests/r/make_fixtures_predict.R
##
## Writes tests/fixtures/predict_housing.json and tests/fixtures/predict_beps.json
## and the newdata files tests/fixtures/data/predict_<case>_newdata.csv. The
## model data are the existing tests/fixtures/data/housing.csv and beps.csv
## (checked here to equal MASS::housing and carData::BEPS). The Python tests
## only read these files; they never need R.
##
## Per case, at the Newton-polished MLE and with one covariance matrix
## V = solve(nnet:::multinomHess(fit)) passed to every method:
##
##   * `direct`: an independent delta-method computation on explicit newdata
##     rows: probabilities from predict(fit, newdata, type = "probs"), SEs as
##     sqrt(diag(G V G')) with the Jacobian G built row by row, both band
##     types, and the log-odds against the baseline with their SEs;
##   * `effects`: effects::Effect(..., vcov. = V) objects (prob, se.prob,
##     logit, se.logit, lower/upper.prob, lower/upper.logit) with the model
##     matrix rows Effect used (non-focal factors are held at their
##     proportions there, so not every row is a newdata row);
##   * `emmeans`: emmeans(fit, ~ <response> | ..., mode = "prob", vcov. = V)
##     estimates, SEs and asymptotic (df = Inf) intervals, with the grid cells,
##     their model-matrix rows and emmeans' linear functions of the cell
##     probabilities (emmeans averages over factors not named).
##
## JSON fields (matrices are lists of rows; probability matrices have one
## column per level, baseline first; data frames are objects of columns):
##   levels, coef_names, coef ((K-1) x p, polished), coef_nnet, convergence,
##   vcov (level-major, names in vcov_names), confidence_level, z,
##   data_csv, factor_levels, formula, python (kwargs for multinom.multinom);
##   direct:  newdata_csv, model_matrix, prob, se, logit, se_logit,
##            lower_logit/upper_logit (logit band), lower_prob/upper_prob
##            (p +- z se), link/link_se/link_lower/link_upper ((K-1) columns);
##   effects: [call, focal, grid, newdata (only when the model-matrix rows are
##            newdata rows), model_matrix, prob, se_prob, logit, se_logit,
##            lower_prob, upper_prob, lower_logit, upper_logit, confidence_level];
##   emmeans: [call, averaged, cells, cells_model_matrix, grid_cell (1-based
##            cell of each reference-grid row), grid_level, linfct (estimates x
##            reference-grid rows), estimates {by columns, level, prob, se,
##            lower, upper (df = Inf)}].
##
## This script only *calls* nnet, effects and emmeans (GPL); none of their code
## is copied anywhere.

suppressPackageStartupMessages({
  library(nnet)
  library(effects)
  library(emmeans)
  library(jsonlite)
})

if (!file.exists(file.path("tests", "r", "make_fixtures_predict.R")))
  stop("run this script from the repository root: Rscript tests/r/make_fixtures_predict.R")

FIX_DIR  <- file.path("tests", "fixtures")
DATA_DIR <- file.path(FIX_DIR, "data")
SCRIPT   <- "tests/r/make_fixtures_predict.R"
CONTROL  <- "reltol = 1e-16, maxit = 10000, MaxNWts = 1e6, trace = FALSE"
NEWTON_TOL <- 1e-11
LEVEL <- 0.95
Z <- qnorm(1 - (1 - LEVEL) / 2)
RUN_DATE <- format(Sys.Date())
empty_object <- function() setNames(list(), character(0))

## --------------------------------------------------------------------------
## helpers (the same conventions as make_fixtures_core.R)
## --------------------------------------------------------------------------

## The data set must equal the CSV the other fixtures use, cell by cell.
check_same_as_csv <- function(df, file) {
  back <- read.csv(file.path(DATA_DIR, file), stringsAsFactors = FALSE, check.names = FALSE)
  stopifnot(identical(names(back), names(df)), nrow(back) == nrow(df))
  for (v in names(df)) {
    a <- df[[v]]; b <- back[[v]]
    ok <- if (is.factor(a) || is.character(a)) identical(as.character(a), as.character(b))
          else identical(as.numeric(a), as.numeric(b))
    if (!ok) stop(sprintf("%s: column %s differs from the package data", file, v))
  }
  file
}

write_data <- function(df, file) {
  path <- file.path(DATA_DIR, file)
  write.csv(df, path, row.names = FALSE, na = "NA")
  check_same_as_csv(df, file)
}

factor_levels_of <- function(df) {
  f <- Filter(is.factor, df)
  if (!length(f)) return(empty_object())
  lapply(f, function(x) I(levels(x)))
}

coef_matrix <- function(fit) coef(fit)                 # K >= 3 only here
level_major <- function(m) as.vector(t(m))

inv_equilibrated <- function(H) {
  d <- 1 / sqrt(diag(H))
  V <- chol2inv(chol(H * outer(d, d))) * outer(d, d)
  dimnames(V) <- dimnames(H)
  V
}

newton_step <- function(fit) {
  H <- nnet:::multinomHess(fit)
  Zm <- model.matrix(fit)
  w <- as.vector(fit$weights)
  R <- as.matrix(fit$residuals)[, -1L, drop = FALSE]
  grad <- -as.vector(crossprod(Zm, w * R))
  b <- level_major(coef_matrix(fit))
  Vh <- inv_equilibrated(H)
  step <- as.vector(Vh %*% grad)
  list(step = step, b = b, gradient_max_abs = max(abs(grad)),
       newton_step_max_rel = max(abs(step) / pmax(abs(b), sqrt(diag(Vh)))))
}

## Put level-major coefficients b into the fit and recompute fitted values as
## nnet's network does (softmax of bias + inputs); no offsets in these cases.
set_coef <- function(fit, b) {
  X <- model.matrix(fit)
  nout <- fit$n[3L]
  r <- length(fit$vcoefnames)
  W <- matrix(fit$wts, nrow = nout, byrow = TRUE)
  W[-1L, 1L + seq_len(r)] <- matrix(b, ncol = r, byrow = TRUE)
  eta <- X %*% t(W[, -1L, drop = FALSE]) + matrix(W[, 1L], nrow(X), nout, byrow = TRUE)
  Y <- fit$residuals + fit$fitted.values
  P <- exp(eta - apply(eta, 1L, max)); P <- P / rowSums(P)
  dimnames(P) <- dimnames(fit$fitted.values)
  fit$wts <- as.vector(t(W))
  fit$fitted.values <- P
  fit$residuals <- Y - P
  w <- as.vector(fit$weights)
  fit$value <- -sum(w * ifelse(Y > 0, Y * log(P), 0))
  fit$deviance <- 2 * fit$value
  fit$AIC <- fit$deviance + 2 * fit$edf
  fit
}

## Newton steps from nnet's solution to the exact MLE (nnet's BFGS stops ~1e-7
## relative away). coef(), predict(), Effect() and emmeans() all read fit$wts,
## so after this every method works at the polished coefficients.
polish_fit <- function(fit, name) {
  same <- set_coef(fit, level_major(coef_matrix(fit)))
  stopifnot(max(abs(same$fitted.values - fit$fitted.values)) < 1e-13)
  before <- newton_step(fit)
  pol <- fit
  for (i in 1:3) {
    ns <- newton_step(pol)
    pol <- set_coef(pol, ns$b - ns$step)
  }
  after <- newton_step(pol)
  if (after$newton_step_max_rel > NEWTON_TOL)
    stop(sprintf("%s: Newton polishing did not converge (step %.3g)", name, after$newton_step_max_rel))
  b0 <- level_major(coef_matrix(fit)); b1 <- level_major(coef_matrix(pol))
  list(fit = pol, raw = fit,
       info = list(nnet_convergence = fit$convergence,
                   nnet_newton_step_max_rel = before$newton_step_max_rel,
                   polished_gradient_max_abs = after$gradient_max_abs,
                   polished_newton_step_max_rel = after$newton_step_max_rel,
                   coef_change_max_rel = max(abs(b1 - b0) / abs(b1))))
}

## Model-matrix rows of newdata (as predict.multinom builds them).
newdata_matrix <- function(fit, newdata) {
  tt <- delete.response(terms(fit))
  mf <- model.frame(tt, newdata, xlev = fit$xlevels)
  X <- model.matrix(tt, mf, contrasts.arg = fit$contrasts)
  attr(X, "assign") <- NULL; attr(X, "contrasts") <- NULL
  X
}

## Jacobian of the K probabilities of one row x (probabilities p, baseline
## first) with respect to the level-major coefficients: row k, block of level
## l (l = 2..K), entry p_k (1{k = l} - p_l) x.
prob_jacobian <- function(p, x) {
  K <- length(p); np <- length(x)
  G <- matrix(0, K, (K - 1) * np)
  for (k in seq_len(K)) for (l in 2:K)
    G[k, (l - 2) * np + seq_len(np)] <- p[k] * ((k == l) - p[l]) * x
  G
}

## The direct delta-method computation on model-matrix rows X.
delta_method <- function(fit, X, V) {
  B <- coef_matrix(fit)
  K <- nrow(B) + 1L; np <- ncol(X)
  eta <- cbind(0, X %*% t(B))
  P <- exp(eta - apply(eta, 1L, max)); P <- P / rowSums(P)
  se <- link_se <- NULL
  for (i in seq_len(nrow(X))) {
    G <- prob_jacobian(P[i, ], X[i, ])
    se <- rbind(se, sqrt(diag(G %*% V %*% t(G))))
    ls <- sapply(2:K, function(l) {
      idx <- (l - 2) * np + seq_len(np)
      sqrt(drop(t(X[i, ]) %*% V[idx, idx] %*% X[i, ]))
    })
    link_se <- rbind(link_se, ls)
  }
  lev <- fit$lev
  lg <- qlogis(P); se_lg <- se / (P * (1 - P))
  link <- eta[, -1L, drop = FALSE]
  nm <- function(M, cn) { M <- unname(as.matrix(M)); colnames(M) <- cn; M }
  list(prob = nm(P, lev), se = nm(se, lev),
       logit = nm(lg, lev), se_logit = nm(se_lg, lev),
       lower_logit = nm(plogis(lg - Z * se_lg), lev), upper_logit = nm(plogis(lg + Z * se_lg), lev),
       lower_prob = nm(P - Z * se, lev), upper_prob = nm(P + Z * se, lev),
       link = nm(link, lev[-1L]), link_se = nm(link_se, lev[-1L]),
       link_lower = nm(link - Z * link_se, lev[-1L]), link_upper = nm(link + Z * link_se, lev[-1L]))
}

max_rel <- function(a, b) max(abs(a - b) / abs(b))

## --------------------------------------------------------------------------
## effects::Effect
## --------------------------------------------------------------------------
## newdata_of: a function(eff) returning a data frame of predictor values whose
## model-matrix rows are exactly eff$model.matrix, or NULL when Effect holds a
## factor at its proportions (no newdata row has those model-matrix rows).
effect_entry <- function(fit, V, focal, call_text, newdata_of = NULL, ...) {
  eff <- Effect(focal, fit, vcov. = V, confidence.level = LEVEL, ...)
  lev <- fit$lev
  stopifnot(identical(colnames(eff$prob), paste0("prob.", make.names(lev))))
  X <- unname(eff$model.matrix); attr(X, "assign") <- NULL; attr(X, "contrasts") <- NULL
  colnames(X) <- colnames(coef_matrix(fit))
  nm <- function(M) { M <- unname(as.matrix(M)); colnames(M) <- lev; M }
  ## cross-check against the direct computation on the same rows
  dm <- delta_method(fit, X, V)
  stopifnot(max(abs(dm$prob - nm(eff$prob))) < 1e-12,
            max_rel(dm$se, nm(eff$se.prob)) < 1e-9,
            max_rel(dm$lower_logit, nm(eff$lower.prob)) < 1e-9)
  nd <- if (is.null(newdata_of)) NULL else newdata_of(eff)
  if (!is.null(nd)) stopifnot(max(abs(newdata_matrix(fit, nd) - X)) < 1e-12)
  Filter(Negate(is.null), list(call = call_text, focal = I(focal),
       grid = eff$x,
       newdata = nd,
       newdata_note = if (is.null(nd))
         "no newdata: Effect holds non-focal factors at their proportions in the data (fractional dummy columns); compare through model_matrix" else NULL,
       model_matrix = X,
       prob = nm(eff$prob), se_prob = nm(eff$se.prob),
       logit = nm(eff$logit), se_logit = nm(eff$se.logit),
       lower_prob = nm(eff$lower.prob), upper_prob = nm(eff$upper.prob),
       lower_logit = nm(eff$lower.logit), upper_logit = nm(eff$upper.logit),
       confidence_level = eff$confidence.level))
}

## --------------------------------------------------------------------------
## emmeans(mode = "prob")
## --------------------------------------------------------------------------
emmeans_entry <- function(fit, V, spec_text, call_text, response, predictors, ...) {
  em <- emmeans(fit, as.formula(spec_text), mode = "prob", vcov. = V, ...)
  rg <- em@grid                                    # the emmeans (one row each)
  s <- as.data.frame(summary(em, df = Inf, level = LEVEL))
  ## the reference grid: cells (predictor combinations) x response levels
  ref <- ref_grid(fit, mode = "prob", vcov. = V, ...)
  g <- ref@grid
  cells <- unique(g[, predictors, drop = FALSE])
  rownames(cells) <- NULL
  key <- function(d) do.call(paste, c(lapply(d[, predictors, drop = FALSE], as.character), sep = "\r"))
  cell_of <- match(key(g), key(cells))
  stopifnot(!anyNA(cell_of), ncol(em@linfct) == nrow(g))
  Xc <- newdata_matrix(fit, cells)
  ## check: emmeans' estimates and SEs from the cells by the direct method
  dm <- delta_method(fit, Xc, V)
  lev_idx <- match(as.character(g[[response]]), fit$lev)
  est_cells <- dm$prob[cbind(cell_of, lev_idx)]
  Gall <- t(sapply(seq_len(nrow(g)), function(i)
    prob_jacobian(dm$prob[cell_of[i], ], Xc[cell_of[i], ])[lev_idx[i], ]))
  L <- em@linfct
  stopifnot(max(abs(L %*% est_cells - s$prob)) < 1e-12,
            max_rel(sqrt(diag(L %*% Gall %*% V %*% t(Gall) %*% t(L))), s$SE) < 1e-9)
  num <- vapply(cells, is.numeric, TRUE)
  averaged <- any(rowSums(L != 0) > 1)
  list(call = call_text,
       averaged = averaged,
       note = if (averaged) "each estimate averages cell probabilities: estimate = linfct %*% p[grid], p[grid][i] = prob of level grid_level[i] in cell grid_cell[i]" else
         "each estimate is the probability of one level in one cell (linfct rows have a single 1)",
       cells = cells,
       cells_model_matrix = Xc,
       grid_cell = I(cell_of),
       grid_level = I(as.character(g[[response]])),
       linfct = L,
       estimates = data.frame(rg[, setdiff(names(rg), c(response, ".wgt.")), drop = FALSE],
                              level = as.character(rg[[response]]),
                              prob = s$prob, se = s$SE,
                              lower = s$asymp.LCL, upper = s$asymp.UCL,
                              check.names = FALSE, stringsAsFactors = FALSE))
}

## --------------------------------------------------------------------------
## one case
## --------------------------------------------------------------------------
make_case <- function(name, description, call_head, data, data_csv, formula, python,
                      newdata, effects_specs, emmeans_specs, response, predictors, notes) {
  call_text <- sprintf("multinom(%s, %s)", call_head, CONTROL)
  fit0 <- eval(parse(text = call_text)[[1L]], globalenv())
  if (fit0$convergence != 0) stop("multinom did not converge: ", call_text)
  pf <- polish_fit(fit0, name)
  fit <- pf$fit
  ## effects/emmeans find the fit by this name
  assign("fit", fit, envir = globalenv())
  H <- nnet:::multinomHess(fit)
  V <- inv_equilibrated(H)
  B <- coef_matrix(fit)
  stopifnot(identical(rownames(V), as.vector(t(outer(rownames(B), colnames(B), paste, sep = ":")))))

  nd_csv <- write_data(newdata, sprintf("predict_%s_newdata.csv", name))
  Xn <- newdata_matrix(fit, newdata)
  direct <- delta_method(fit, Xn, V)
  Pp <- predict(fit, newdata, type = "probs")
  stopifnot(max(abs(Pp - direct$prob)) < 1e-12)

  effs <- lapply(effects_specs, function(e) do.call(effect_entry, c(list(fit = fit, V = V), e)))
  emms <- lapply(emmeans_specs, function(e)
    do.call(emmeans_entry, c(list(fit = fit, V = V, response = response, predictors = predictors), e)))

  fx <- list(
    name = paste0("predict_", name),
    description = description,
    provenance = c(list(
      R = R.version.string,
      nnet = as.character(packageVersion("nnet")),
      effects = as.character(packageVersion("effects")),
      emmeans = as.character(packageVersion("emmeans")),
      jsonlite = as.character(packageVersion("jsonlite")),
      call = call_text,
      vcov = "V = solve(nnet:::multinomHess(fit)) (by Cholesky with symmetric equilibration), at the Newton-polished coefficients; passed as vcov. = V to Effect() and emmeans()",
      date = RUN_DATE, script = SCRIPT), notes),
    data_csv = data_csv,
    factor_levels = factor_levels_of(data),
    formula = formula,
    python = python,
    levels = I(fit$lev),
    coef_names = I(colnames(B)),
    coef = B,
    coef_nnet = coef(pf$raw),
    convergence = pf$info,
    vcov = V,
    vcov_names = I(rownames(V)),
    confidence_level = LEVEL,
    z = Z,
    direct = c(list(
      note = "independent delta method: SE_k = sqrt(diag(G V G')) with G the Jacobian of the K probabilities; bands: plogis(qlogis(p) +- z se/(p(1-p))) (logit) and p +- z se (prob); link = log-odds against the baseline with SE sqrt(x' V_ll x)",
      newdata_csv = nd_csv,
      model_matrix = Xn), direct),
    effects = effs,
    emmeans = emms)
  path <- file.path(FIX_DIR, paste0(fx$name, ".json"))
  fx <- Filter(Negate(is.null), fx)
  write_json(fx, path, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null",
             dataframe = "columns", matrix = "rowmajor")
  message(sprintf("wrote %-40s (%6.1f kB)", path, file.size(path) / 1024))
  invisible(fx)
}

## ==========================================================================
## housing: MASS::housing, Sat ~ Infl + Type + Cont, weights Freq
## ==========================================================================
housing <- MASS::housing
invisible(check_same_as_csv(housing, "housing.csv"))
hcells <- unique(housing[, c("Infl", "Type", "Cont")])
rownames(hcells) <- NULL
make_case(
  "housing",
  "Predicted probabilities with delta-method SEs for MASS::housing, Sat ~ Infl + Type + Cont with frequency weights Freq; direct computation on all 24 Infl x Type x Cont cells, effects::Effect and emmeans(mode = 'prob') results, all at the polished MLE with V = solve(multinomHess).",
  "Sat ~ Infl + Type + Cont, data = housing, weights = Freq",
  housing, "housing.csv", "Sat ~ Infl + Type + Cont", list(weights = "Freq"),
  newdata = hcells,
  effects_specs = list(
    list(focal = "Infl", call_text = "Effect('Infl', fit, vcov. = V)"),
    list(focal = c("Infl", "Type", "Cont"), call_text = "Effect(c('Infl', 'Type', 'Cont'), fit, vcov. = V)",
         newdata_of = function(eff) eff$x)),
  emmeans_specs = list(
    list(spec_text = "~ Sat | Infl", call_text = "emmeans(fit, ~ Sat | Infl, mode = 'prob', vcov. = V); summary(df = Inf)"),
    list(spec_text = "~ Sat | Infl * Type * Cont",
         call_text = "emmeans(fit, ~ Sat | Infl * Type * Cont, mode = 'prob', vcov. = V); summary(df = Inf)")),
  response = "Sat", predictors = c("Infl", "Type", "Cont"),
  notes = list(MASS = as.character(packageVersion("MASS"))))

## ==========================================================================
## beps: carData::BEPS, vote ~ age + economic_cond_national + gender + Europe
## ==========================================================================
beps <- carData::BEPS
names(beps) <- gsub(".", "_", names(beps), fixed = TRUE)
invisible(check_same_as_csv(beps, "beps.csv"))
bnew <- data.frame(
  age = c(43, 36, 18, 95, 60, 25, 70, 50, 95),
  economic_cond_national = c(3, 4, 1, 5, 2, 5, 1, 8, 12),
  gender = factor(c("female", "male", "female", "male", "male", "female", "female", "male", "male"),
                  levels = levels(beps$gender)),
  Europe = c(2, 5, 1, 11, 6, 11, 9, 1, 1))
mean_row <- function(eff, focal) {
  d <- eff$x
  d$age <- mean(beps$age)
  d$economic_cond_national <- mean(beps$economic_cond_national)
  d[, c("age", "economic_cond_national", "gender", "Europe")]
}
make_case(
  "beps",
  "Predicted probabilities with delta-method SEs for carData::BEPS (dots in names -> '_'), vote ~ age + economic_cond_national + gender + Europe; direct computation on 9 newdata rows (the last two extrapolate economic_cond_national to 8 and 12, giving probabilities down to 7e-5 and up to 0.995, where the symmetric band leaves [0, 1]), effects::Effect and emmeans(mode = 'prob') results, all at the polished MLE with V = solve(multinomHess).",
  "vote ~ age + economic_cond_national + gender + Europe, data = beps",
  beps, "beps.csv", "vote ~ age + economic_cond_national + gender + Europe", empty_object(),
  newdata = bnew,
  effects_specs = list(
    list(focal = c("gender", "Europe"),
         call_text = "Effect(c('gender', 'Europe'), fit, xlevels = list(Europe = c(1, 3, 6, 9, 11)), vcov. = V)",
         newdata_of = mean_row, xlevels = list(Europe = c(1, 3, 6, 9, 11))),
    list(focal = "age",
         call_text = "Effect('age', fit, xlevels = list(age = c(20, 40, 60, 80, 95)), vcov. = V)",
         xlevels = list(age = c(20, 40, 60, 80, 95)))),
  emmeans_specs = list(
    list(spec_text = "~ vote | gender * Europe",
         call_text = "emmeans(fit, ~ vote | gender * Europe, at = list(Europe = c(1, 6, 11)), mode = 'prob', vcov. = V); summary(df = Inf)",
         at = list(Europe = c(1, 6, 11))),
    list(spec_text = "~ vote | Europe",
         call_text = "emmeans(fit, ~ vote | Europe, at = list(Europe = c(1, 6, 11)), mode = 'prob', vcov. = V); summary(df = Inf)",
         at = list(Europe = c(1, 6, 11)))),
  response = "vote", predictors = c("age", "economic_cond_national", "gender", "Europe"),
  notes = list(carData = as.character(packageVersion("carData")),
               data = "carData::BEPS with '.' in column names replaced by '_'"))
