## Reference fixtures for model comparison, hypothesis tests and robust
## covariances (multinom.inference, multinom.covariance).
##
## Run from the repository root:
##
##     Rscript tests/r/make_fixtures_inference.R
##
## Writes tests/fixtures/inference_{anova,drop1,wald,sandwich}.json and the
## data sets tests/fixtures/data/inference_*.csv.  The Python tests only read
## these files.  Requirements: R with nnet, MASS, car, sandwich, jsonlite.
##
## What is computed how:
##  * anova(): nnet's anova.multinom on nnet fits (deviances are second-order
##    accurate at nnet's optimum, so ~1e-12 relative).
##  * drop1()/add1(): nnet's drop1.multinom/add1.multinom, called INSIDE a
##    function (at top level they fail or pick up the wrong data, because
##    they re-evaluate the call with eval.parent); the deviance of every
##    refit is stored too, for the LR tests nnet does not report.
##  * Wald tests: car::linearHypothesis with coef. = the Newton-polished MLE
##    and vcov. = solve(information) (not nnet's ginv-based vcov).
##  * sandwich / vcovCL: sandwich::sandwich and sandwich::vcovCL with
##    estfun()/bread() methods for multinom defined below (sandwich has none
##    for nnet): estfun = per-row score w_i (y_i - p_i)[-1] (x) z_i,
##    bread = n * solve(information), both at the polished MLE.  Frequency
##    weights are checked on data EXPANDED to one row per unit (sandwich's
##    own estfun for weighted fits would square the weights).
##
## nnet is GPL: this script calls it; no code is copied.

suppressPackageStartupMessages({
  library(nnet)
  library(MASS)
  library(car)
  library(sandwich)
  library(jsonlite)
})

if (!file.exists(file.path("tests", "r", "make_fixtures_inference.R")))
  stop("run this script from the repository root: Rscript tests/r/make_fixtures_inference.R")

FIX_DIR  <- file.path("tests", "fixtures")
DATA_DIR <- file.path(FIX_DIR, "data")
dir.create(DATA_DIR, recursive = TRUE, showWarnings = FALSE)
CONTROL <- list(reltol = 1e-16, maxit = 10000, MaxNWts = 1e6, trace = FALSE)
SCRIPT <- "tests/r/make_fixtures_inference.R"

provenance <- function(calls, notes = NULL) {
  c(list(R = R.version.string,
         nnet = as.character(packageVersion("nnet")),
         MASS = as.character(packageVersion("MASS")),
         car = as.character(packageVersion("car")),
         sandwich = as.character(packageVersion("sandwich")),
         jsonlite = as.character(packageVersion("jsonlite")),
         calls = I(calls), date = format(Sys.Date()), script = SCRIPT), notes)
}

write_fixture <- function(fx, name) {
  path <- file.path(FIX_DIR, paste0(name, ".json"))
  write_json(fx, path, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
  message(sprintf("wrote %-45s (%6.1f kB)", path, file.size(path) / 1024))
}

write_data <- function(df, file) {
  path <- file.path(DATA_DIR, file)
  write.csv(df, path, row.names = FALSE, na = "NA")
  back <- read.csv(path, stringsAsFactors = FALSE)
  stopifnot(nrow(back) == nrow(df))
  for (v in names(df)) {
    a <- df[[v]]; b <- back[[v]]
    ok <- if (is.factor(a) || is.character(a)) identical(as.character(a), as.character(b))
          else identical(as.numeric(a), as.numeric(b))
    if (!ok) stop(sprintf("%s: column %s does not survive the CSV round trip", file, v))
  }
  file
}
factor_levels_of <- function(df) lapply(Filter(is.factor, df), function(x) I(levels(x)))

fit_mn <- function(formula, data, weights = NULL) {
  data$.w <- if (is.null(weights)) 1 else data[[weights]]
  ## the formula and data are inlined in the call, so model.matrix(fit) can re-evaluate it anywhere
  fit <- do.call(multinom, c(list(formula = formula, data = data, weights = quote(.w)), CONTROL))
  if (fit$convergence != 0) stop("multinom did not converge")
  fit
}

## ---------------------------------------------------------------------------
## Exact MLE by Newton polishing, and everything derived from it
## ---------------------------------------------------------------------------
softmax_rows <- function(eta) { P <- exp(eta - apply(eta, 1L, max)); P / rowSums(P) }

## counts n x K (baseline first) of a fit: prior weights x response proportions
counts_of <- function(fit) {
  w <- as.vector(fit$weights)
  Y <- as.matrix(fit$residuals + fit$fitted.values)
  if (ncol(Y) == 1L) Y <- cbind(1 - Y, Y)
  w * Y
}

information <- function(P1, Z, m) {        # sum_i m_i (diag p - p p') (x) z z'
  k <- ncol(P1); p <- ncol(Z)
  H <- matrix(0, k * p, k * p)
  for (a in seq_len(k)) for (b in seq_len(k)) {
    wab <- m * ((if (a == b) P1[, a] else 0) - P1[, a] * P1[, b])
    H[(a - 1) * p + seq_len(p), (b - 1) * p + seq_len(p)] <- crossprod(Z, wab * Z)
  }
  H
}

polish <- function(fit) {
  Z <- model.matrix(fit); Y <- counts_of(fit); m <- rowSums(Y)
  B <- coef(fit); if (is.null(dim(B))) B <- t(as.matrix(B))
  k <- nrow(B); p <- ncol(Z)
  for (it in 1:50) {
    P <- softmax_rows(cbind(0, Z %*% t(B)))
    G <- t(Z) %*% (Y[, -1L, drop = FALSE] - m * P[, -1L, drop = FALSE])   # p x k
    H <- information(P[, -1L, drop = FALSE], Z, m)
    step <- solve(H, as.vector(G))                                         # level-major
    B <- B + matrix(step, k, p, byrow = TRUE)
    se <- sqrt(diag(solve(H)))
    if (max(abs(step) / pmax(abs(as.vector(t(B))), se)) < 1e-13) break
  }
  P <- softmax_rows(cbind(0, Z %*% t(B)))
  H <- information(P[, -1L, drop = FALSE], Z, m)
  nm <- as.vector(t(outer(rownames(coef(fit)), colnames(Z), paste, sep = ":")))
  dimnames(H) <- list(nm, nm)
  b <- as.vector(t(B)); names(b) <- nm
  fit$polished <- list(B = B, b = b, P = P, H = H, V = solve(H), Z = Z, Y = Y, m = m)
  fit
}

## sandwich methods for multinom, at the polished MLE
estfun.multinom <- function(x, ...) {
  pz <- x$polished
  R <- pz$Y[, -1L, drop = FALSE] - pz$m * pz$P[, -1L, drop = FALSE]
  ef <- do.call(cbind, lapply(seq_len(ncol(R)), function(j) R[, j] * pz$Z))
  colnames(ef) <- names(pz$b)
  ef
}
bread.multinom <- function(x, ...) nrow(x$polished$Z) * x$polished$V
registerS3method("estfun", "multinom", estfun.multinom, envir = asNamespace("sandwich"))
registerS3method("bread", "multinom", bread.multinom, envir = asNamespace("sandwich"))

anova_table <- function(a) {
  list(Model = I(as.character(a$Model)), resid_df = I(a[["Resid. df"]]),
       resid_dev = I(a[["Resid. Dev"]]), Test = I(as.character(a$Test)),
       Df = I(a[["   Df"]]), LR = I(a[["LR stat."]]), p = I(a[["Pr(Chi)"]]))
}

## ---------------------------------------------------------------------------
## Data
## ---------------------------------------------------------------------------
hous <- MASS::housing
hous$cell <- seq_len(nrow(hous))                       # the data row (a cluster)
hous$clus <- factor(paste(hous$Type, hous$Infl, sep = "."))  # 12 clusters
hous_csv <- write_data(hous, "inference_housing.csv")

## overdispersed counts: Dirichlet-multinomial rows, 8 sites
set.seed(20240607)
n <- 80
dm <- data.frame(site = factor(sprintf("s%d", rep(1:8, each = 10))), x = round(rnorm(n), 4))
m_row <- sample(20:60, n, replace = TRUE)
eta <- cbind(0, 0.3 + 0.8 * dm$x, -0.4 - 0.5 * dm$x + 0.3 * (as.integer(dm$site) %% 3))
pr <- softmax_rows(eta)
alpha0 <- 8                                            # precision: rho = 1 / (1 + alpha0)
cnt <- t(sapply(seq_len(n), function(i) {
  g <- rgamma(3, shape = alpha0 * pr[i, ]); rmultinom(1, m_row[i], g / sum(g))
}))
dm$A <- cnt[, 1]; dm$B <- cnt[, 2]; dm$C <- cnt[, 3]
dm_csv <- write_data(dm, "inference_dm_counts.csv")

## binary
set.seed(7)
nb <- 60
bin <- data.frame(x = round(rnorm(nb), 4), g = factor(sample(c("a", "b", "c"), nb, TRUE)))
bin$y <- factor(ifelse(runif(nb) < plogis(0.5 * bin$x + (bin$g == "b")), "yes", "no"),
                levels = c("no", "yes"))
bin_csv <- write_data(bin, "inference_binary.csv")

## ---------------------------------------------------------------------------
## anova
## ---------------------------------------------------------------------------
h1 <- fit_mn(Sat ~ Infl, hous, weights = "Freq")
h2 <- fit_mn(Sat ~ Infl + Type + Cont, hous, weights = "Freq")
h3 <- fit_mn(Sat ~ Infl * Type + Cont, hous, weights = "Freq")
b1 <- fit_mn(y ~ x, bin)
b2 <- fit_mn(y ~ x + g, bin)
d1 <- fit_mn(cbind(A, B, C) ~ x, dm)
d2 <- fit_mn(cbind(A, B, C) ~ x + site, dm)

fx_anova <- list(
  name = "inference_anova",
  description = paste("nnet::anova.multinom likelihood-ratio tables. R orders the fits by edf;",
                      "Resid. df = nrow(residuals) * (ncol(residuals) - 1) - edf, which is -edf",
                      "for a binary response (residuals are one column there)."),
  provenance = provenance(c(
    "anova(h2, h1)  # h1 <- multinom(Sat ~ Infl, housing, weights = Freq); h2: Sat ~ Infl + Type + Cont",
    "anova(h1, h3, h2)  # h3: Sat ~ Infl * Type + Cont",
    "anova(b1, b2)  # y ~ x, y ~ x + g on inference_binary.csv",
    "anova(d2, d1)  # cbind(A, B, C) ~ x (+ site) on inference_dm_counts.csv")),
  data = list(housing = list(csv = hous_csv, factor_levels = factor_levels_of(hous)),
              binary = list(csv = bin_csv, factor_levels = factor_levels_of(bin)),
              dm = list(csv = dm_csv, factor_levels = factor_levels_of(dm))),
  cases = list(
    list(data = "housing", weights = "Freq", formulas = I(c("Sat ~ Infl + Type + Cont", "Sat ~ Infl")),
         table = anova_table(anova(h2, h1))),
    list(data = "housing", weights = "Freq",
         formulas = I(c("Sat ~ Infl", "Sat ~ Infl * Type + Cont", "Sat ~ Infl + Type + Cont")),
         table = anova_table(anova(h1, h3, h2))),
    list(data = "binary", formulas = I(c("y ~ x", "y ~ x + g")), table = anova_table(anova(b1, b2)),
         nrows = nb),
    list(data = "dm", formulas = I(c("cbind(A, B, C) ~ x + site", "cbind(A, B, C) ~ x")),
         table = anova_table(anova(d2, d1)), nrows = n))
)
write_fixture(fx_anova, "inference_anova")

## ---------------------------------------------------------------------------
## drop1 / add1 (inside a function, where they work)
## ---------------------------------------------------------------------------
run_drop_add <- function() {
  ## drop1/add1.multinom build update(object, ~ . - term, trace = trace) unevaluated and
  ## eval.parent() it: `dat` and `trace` must exist in the CALLER's frame (here), otherwise
  ## `trace` is base::trace and multinom() fails ("argument is not interpretable as logical").
  trace <- FALSE
  dat <- hous
  f2 <- multinom(Sat ~ Infl + Type + Cont, dat, weights = Freq, reltol = 1e-16, maxit = 10000, trace = FALSE)
  f3 <- multinom(Sat ~ Infl * Type + Cont, dat, weights = Freq, reltol = 1e-16, maxit = 10000, trace = FALSE)
  f1 <- multinom(Sat ~ Infl, dat, weights = Freq, reltol = 1e-16, maxit = 10000, trace = FALSE)
  dev_of <- function(fit, change) {
    nf <- update(fit, as.formula(paste("~ .", change)), evaluate = FALSE)
    nf <- eval(nf)
    c(edf = nf$edf, deviance = nf$deviance, AIC = nf$AIC)
  }
  one <- function(tab, fit, changes) {
    refits <- lapply(changes, function(ch) dev_of(fit, ch))
    list(rows = I(rownames(tab)), edf = I(tab$Df), AIC = I(tab$AIC),
         deviance = I(c(fit$deviance, sapply(refits, `[[`, "deviance"))),
         model_edf = fit$edf)
  }
  invisible(capture.output({
    d2 <- drop1(f2); d3 <- drop1(f3)
    a2 <- add1(f2, ~ .^2); a1 <- add1(f1, ~ Infl * Type * Cont)
  }))
  list(
    drop1_main = c(list(formula = "Sat ~ Infl + Type + Cont", call = "drop1(f2)"),
                   one(d2, f2, paste("-", rownames(d2)[-1]))),
    drop1_interaction = c(list(formula = "Sat ~ Infl * Type + Cont", call = "drop1(f3)"),
                          one(d3, f3, paste("-", rownames(d3)[-1]))),
    add1_pairs = c(list(formula = "Sat ~ Infl + Type + Cont", call = "add1(f2, ~ .^2)",
                        scope = "~ .^2"),
                   one(a2, f2, sub("^\\+", "+ ", rownames(a2)[-1]))),
    add1_marginal = c(list(formula = "Sat ~ Infl", call = "add1(f1, ~ Infl * Type * Cont)",
                           scope = "~ Infl * Type * Cont"),
                      one(a1, f1, sub("^\\+", "+ ", rownames(a1)[-1])))
  )
}
fx_drop <- list(
  name = "inference_drop1",
  description = paste("nnet::drop1.multinom / add1.multinom on housing (weights = Freq), called",
                      "inside a function. nnet reports Df = edf of the refit and its AIC; the",
                      "deviances of the model and of every refit are stored for the LR tests."),
  provenance = provenance(c("drop1(f2)", "drop1(f3)", "add1(f2, ~ .^2)", "add1(f1, ~ Infl * Type * Cont)")),
  data = list(csv = hous_csv, factor_levels = factor_levels_of(hous)),
  weights = "Freq",
  cases = run_drop_add()
)
write_fixture(fx_drop, "inference_drop1")

## ---------------------------------------------------------------------------
## sandwich / vcovCL
## ---------------------------------------------------------------------------
## housing expanded to one row per unit (1681 rows)
hx <- hous[rep(seq_len(nrow(hous)), hous$Freq), ]
hx_fit <- polish(fit_mn(Sat ~ Infl + Type + Cont, hx))
h2p <- polish(h2)
stopifnot(max(abs(hx_fit$polished$b - h2p$polished$b)) < 1e-10)
V_hx_sand <- sandwich(hx_fit)
V_hx_cell <- vcovCL(hx_fit, cluster = hx$cell)
V_hx_clus <- vcovCL(hx_fit, cluster = hx$clus)
V_hx_clus_hc1 <- vcovCL(hx_fit, cluster = hx$clus, type = "HC1")
V_hx_clus_noadj <- vcovCL(hx_fit, cluster = hx$clus, cadjust = FALSE)
V_hx_hc1 <- vcovCL(hx_fit, type = "HC1")    # each unit its own cluster, HC1

## overdispersed counts: rows are the units R sees; expanded: one row per count
d2p <- polish(d2)
V_dm_rows <- sandwich(d2p)                            # each data row a cluster, no adjustment
V_dm_rows_cl <- vcovCL(d2p)                           # each row a cluster, G/(G-1)
V_dm_site <- vcovCL(d2p, cluster = dm$site)
V_dm_site_hc1 <- vcovCL(d2p, cluster = dm$site, type = "HC1")
lev <- c("A", "B", "C")
ux <- do.call(rbind, lapply(seq_len(n), function(i) {
  k <- rep(1:3, cnt[i, ])
  data.frame(site = dm$site[i], x = dm$x[i], y = factor(lev[k], levels = lev), row = i)
}))
ux_fit <- polish(fit_mn(y ~ x + site, ux))
stopifnot(max(abs(ux_fit$polished$b - d2p$polished$b)) < 1e-9)
V_dm_units <- sandwich(ux_fit)
V_dm_units_rowcl <- vcovCL(ux_fit, cluster = ux$row)     # = V_dm_rows_cl

## Pearson dispersion of the count rows
Pd <- d2p$polished$P; Yd <- d2p$polished$Y; md <- d2p$polished$m
E <- md * Pd
X2 <- sum((Yd - E)^2 / E)
df_res <- sum(md > 0) * 2 - d2$edf

## the multinomial (not overdispersed) counterpart: same design, multinomial counts
set.seed(99)
cnt0 <- t(sapply(seq_len(n), function(i) rmultinom(1, m_row[i], pr[i, ])))
dm0 <- dm; dm0$A <- cnt0[, 1]; dm0$B <- cnt0[, 2]; dm0$C <- cnt0[, 3]
dm0_csv <- write_data(dm0, "inference_mn_counts.csv")
d0p <- polish(fit_mn(cbind(A, B, C) ~ x + site, dm0))
E0 <- d0p$polished$m * d0p$polished$P
X2_0 <- sum((d0p$polished$Y - E0)^2 / E0)

mat <- function(V) { V <- as.matrix(V); list(names = I(rownames(V)), value = unname(V)) }
fx_sand <- list(
  name = "inference_sandwich",
  description = paste(
    "sandwich::sandwich / vcovCL with estfun/bread methods for multinom (per-row score,",
    "n * solve(information)) at the Newton-polished MLE. housing: frequency weights checked",
    "through the data expanded to one row per unit (hx); dm: Dirichlet-multinomial counts",
    "(rows of 20-60 units, 8 sites), per-row sandwiches on the count fit and per-unit ones on",
    "the data expanded to one row per count (ux)."),
  provenance = provenance(c(
    "hx <- housing[rep(1:72, Freq), ]; fit <- multinom(Sat ~ Infl + Type + Cont, hx)",
    "sandwich(fit); vcovCL(fit, cluster = hx$cell); vcovCL(fit, cluster = hx$clus)",
    "vcovCL(fit, cluster = hx$clus, type = 'HC1'); vcovCL(fit, cluster = hx$clus, cadjust = FALSE)",
    "vcovCL(fit, type = 'HC1')",
    "d2 <- multinom(cbind(A, B, C) ~ x + site, dm); sandwich(d2); vcovCL(d2); vcovCL(d2, cluster = dm$site)",
    "vcovCL(d2, cluster = dm$site, type = 'HC1')",
    "ux: one row per count; u <- multinom(y ~ x + site, ux); sandwich(u); vcovCL(u, cluster = ux$row)")),
  housing = list(csv = hous_csv, factor_levels = factor_levels_of(hous), formula = "Sat ~ Infl + Type + Cont",
                 weights = "Freq", nobs = sum(hous$Freq), coef = I(h2p$polished$b),
                 vcov_model = mat(h2p$polished$V),
                 sandwich = mat(V_hx_sand), cluster_cell = mat(V_hx_cell),
                 cluster_clus = mat(V_hx_clus), cluster_clus_hc1 = mat(V_hx_clus_hc1),
                 cluster_clus_noadj = mat(V_hx_clus_noadj), units_hc1 = mat(V_hx_hc1)),
  dm = list(csv = dm_csv, factor_levels = factor_levels_of(dm), formula = "cbind(A, B, C) ~ x + site",
            nobs = sum(cnt), nrows = n, coef = I(d2p$polished$b), vcov_model = mat(d2p$polished$V),
            rows_sandwich = mat(V_dm_rows), rows_vcovCL = mat(V_dm_rows_cl),
            rows_vcovCL_units = mat(V_dm_units_rowcl),
            site = mat(V_dm_site), site_hc1 = mat(V_dm_site_hc1), units_sandwich = mat(V_dm_units),
            pearson_chi2 = X2, pearson_df = df_res, dispersion = X2 / df_res,
            simulation = list(seed = 20240607, alpha0 = alpha0, rho = 1 / (1 + alpha0))),
  mn = list(csv = dm0_csv, formula = "cbind(A, B, C) ~ x + site", pearson_chi2 = X2_0,
            pearson_df = df_res, dispersion = X2_0 / df_res)
)
write_fixture(fx_sand, "inference_sandwich")

## ---------------------------------------------------------------------------
## Wald tests (car::linearHypothesis) and level contrasts
## ---------------------------------------------------------------------------
b <- h2p$polished$b; V <- h2p$polished$V
lh <- function(hyp, vc = V, rhs = NULL) {
  r <- linearHypothesis(h2p, hyp, rhs = rhs, coef. = b, vcov. = vc)
  L <- if (is.character(hyp)) makeHypothesis(names(b), hyp, rhs) else cbind(hyp, rhs %||% 0)
  if (is.null(dim(L))) L <- t(L)
  list(chisq = r$Chisq[2], df = r$Df[2], p = r[["Pr(>Chisq)"]][2],
       R = unname(L[, seq_along(b), drop = FALSE]), q = I(unname(L[, ncol(L)])))
}
`%||%` <- function(a, c) if (is.null(a)) c else a
Rinfl <- matrix(0, 4, length(b)); colnames(Rinfl) <- names(b)
Rinfl[cbind(1:4, match(c("Medium:InflMedium", "Medium:InflHigh", "High:InflMedium", "High:InflHigh"),
                       names(b)))] <- 1
tests <- list(
  list(text = I("Medium:TypeApartment = High:TypeApartment"), vcov = "model",
       res = lh("Medium:TypeApartment = High:TypeApartment")),
  list(text = I(c("Medium:ContHigh = 0", "High:ContHigh = 0")), vcov = "model",
       res = lh(c("Medium:ContHigh = 0", "High:ContHigh = 0"))),
  list(text = I("2*Medium:ContHigh - High:ContHigh = 0.1"), vcov = "model",
       res = lh("2*Medium:ContHigh - High:ContHigh = 0.1")),
  list(text = I("Medium:(Intercept) + High:(Intercept) = -1"), vcov = "model",
       res = lh("Medium:(Intercept) + High:(Intercept) = -1")),
  list(matrix = unname(Rinfl), vcov = "model", res = lh(unclass(Rinfl), rhs = rep(0, 4))),
  list(text = I(c("Medium:ContHigh = 0", "High:ContHigh = 0")), vcov = "sandwich",
       res = lh(c("Medium:ContHigh = 0", "High:ContHigh = 0"), vc = V_hx_sand)),
  list(text = I(c("Medium:ContHigh = 0", "High:ContHigh = 0")), vcov = "cluster:clus",
       res = lh(c("Medium:ContHigh = 0", "High:ContHigh = 0"), vc = V_hx_clus))
)
## level contrasts of a term: every pair of levels, baseline coefficient 0
contrast <- function(term, vc = V) {
  levs <- c("Low", "Medium", "High")
  out <- list()
  for (i in 1:2) for (j in (i + 1):3) {
    a <- levs[i]; bb <- levs[j]
    L <- setNames(rep(0, length(b)), names(b))
    L[paste(bb, term, sep = ":")] <- 1
    if (a != "Low") L[paste(a, term, sep = ":")] <- -1
    est <- sum(L * b); se <- sqrt(drop(t(L) %*% vc %*% L))
    r <- linearHypothesis(h2p, t(L), coef. = b, vcov. = vc)
    stopifnot(abs(r$Chisq[2] - (est / se)^2) < 1e-8 * r$Chisq[2])
    out[[length(out) + 1]] <- list(level = bb, versus = a, estimate = est, se = se,
                                   z = est / se, p = 2 * pnorm(-abs(est / se)),
                                   lower = est - qnorm(0.975) * se, upper = est + qnorm(0.975) * se)
  }
  out
}
fx_wald <- list(
  name = "inference_wald",
  description = paste("car::linearHypothesis on Sat ~ Infl + Type + Cont (housing, weights = Freq)",
                      "with coef. = polished MLE and vcov. = solve(information) (or the sandwich /",
                      "cluster covariances of inference_sandwich.json); R and q from car::makeHypothesis."),
  provenance = provenance(c("linearHypothesis(fit, hyp, coef. = b, vcov. = solve(H))")),
  data = list(csv = hous_csv, factor_levels = factor_levels_of(hous)),
  formula = "Sat ~ Infl + Type + Cont", weights = "Freq",
  coef_names = I(names(b)),
  tests = tests,
  contrasts = list(ContHigh = contrast("ContHigh"), TypeApartment = contrast("TypeApartment"),
                   ContHigh_sandwich = contrast("ContHigh", V_hx_sand))
)
write_fixture(fx_wald, "inference_wald")
