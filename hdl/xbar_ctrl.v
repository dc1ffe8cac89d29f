// xbar_ctrl: write-verify training controller and inference sequencer of an
// N_IN -> N_HID -> N_OUT memristor crossbar (N_DEV = N_IN*N_HID + N_HID*N_OUT devices, one
// shared programming/read source, one-hot select lines).  Default: the paper's 9 -> 3 -> 1.
//
// Synthesizable Verilog-2005.  Digital codes only: the DACs/ADCs are outside (hdl/behav/).
// Register map: hdl/xbar_regs.vh.  Timing contract: docs/controller.md.
//
// Device k <-> select bit k: layer-1 device (input i -> hidden j) k = i*N_HID + j; layer-2
// device (hidden j -> output o) k = N_IN*N_HID + j*N_OUT + o.  Neuron n: 0 .. N_HID-1 hidden,
// N_HID .. N_HID+N_OUT-1 outputs (neuron_codes / REG_NRN_CODE order).
//
// All outputs are registered.  pulse_code is 0 whenever pulse_on is 0 and in_codes are 0
// whenever infer_en is 0, so a DAC output changes exactly once per code change.
`timescale 1ns / 1ps
`default_nettype none

module xbar_ctrl #(
    parameter integer N_IN = 9,          // inputs (input DACs)
    parameter integer N_HID = 3,         // hidden neurons
    parameter integer N_OUT = 1,         // output neurons
    parameter integer PULSE_BITS = 12,   // pulse DAC width (two's complement code)
    parameter integer IN_BITS = 12,      // input DAC width (unsigned code)
    parameter integer SENSE_BITS = 12,   // sense ADC width (<= 16)
    parameter integer NEURON_BITS = 12   // neuron ADC width (<= 16)
) (
    input wire clk,
    input wire rst_n,
    // host bus
    input wire host_we,
    input wire [7:0] host_addr,
    input wire [15:0] host_wdata,
    output reg [15:0] host_rdata,
    // status
    output reg start,
    output reg busy,
    output reg done,
    output reg [2:0] phase,
    output reg [N_IN*N_HID+N_HID*N_OUT-1:0] sel,           // device k at bit k
    output reg [idx_width(N_IN*N_HID+N_HID*N_OUT)-1:0] cur_dev,
    output reg infer_en,
    // to the DACs
    output reg pulse_on,
    output reg [PULSE_BITS-1:0] pulse_code,
    output reg [N_IN*IN_BITS-1:0] in_codes,                // input i at [i*IN_BITS +: IN_BITS]
    // ADC handshake
    output reg adc_sample,                  // sample-and-hold command; held until adc_valid
    input wire adc_valid,                   // one-cycle strobe: codes below are converted
    input wire [SENSE_BITS-1:0] sense_code,
    input wire [(N_HID+N_OUT)*NEURON_BITS-1:0] neuron_codes  // neuron n at [n*NEURON_BITS +: ..]
);

  // width of an index 0 .. n-1, at least 1 bit
  function integer idx_width(input integer n);
    integer r;
    begin
      r = 1;
      while ((1 << r) < n) r = r + 1;
      idx_width = r;
    end
  endfunction

  /* verilator lint_off UNUSEDPARAM */
`include "hdl/xbar_regs.vh"
  /* verilator lint_on UNUSEDPARAM */

  // ---------------------------------------------------------------- shape
  localparam integer N_DEV = N_IN * N_HID + N_HID * N_OUT;
  localparam integer N_NEURON = N_HID + N_OUT;
  localparam integer DEV_W = idx_width(N_DEV);     // cur_dev, device index
  localparam integer IN_W = idx_width(N_IN);       // input index
  localparam integer NRN_W = idx_width(N_NEURON);  // neuron index
  localparam integer CLS_W = idx_width(N_OUT);     // class (output-neuron index)
  localparam integer N_DEV_M1 = N_DEV - 1;
  localparam [DEV_W-1:0] LAST_DEV = N_DEV_M1[DEV_W-1:0];
  localparam [DEV_W-1:0] ONE_DEV = {{(DEV_W - 1) {1'b0}}, 1'b1};
  localparam [15:0] N_IN_16 = N_IN[15:0];
  localparam [15:0] N_HID_16 = N_HID[15:0];
  localparam [15:0] N_OUT_16 = N_OUT[15:0];
  localparam [15:0] N_DEV_16 = N_DEV[15:0];
  localparam [15:0] N_NEURON_16 = N_NEURON[15:0];

  // ---------------------------------------------------------------- FSM states
  localparam [3:0] S_IDLE = 4'd0, S_SCAN = 4'd1, S_DEV = 4'd2, S_SETUP = 4'd3,
                   S_PULSE = 4'd4, S_HOLD = 4'd5, S_GAP = 4'd6, S_WAIT_ADC = 4'd7,
                   S_EVAL = 4'd8, S_INF_ON = 4'd9, S_INF_SETTLE = 4'd10,
                   S_INF_WAIT = 4'd11, S_FINISH = 4'd12, S_STEP_WAIT = 4'd13;

  // ---------------------------------------------------------------- host registers
  reg                   mode_r;
  reg [15:0]            tol_r, max_pulses_r;
  reg [3:0]             tol_shift_r; // REG_TOL_SHIFT: relative window target >> s (0 = off)
  reg                   reset_en_r;
  reg [PULSE_BITS-1:0]  write_code_r, erase_code_r, reset_code_r, read_code_r;
  reg [15:0]            write_cyc_r, erase_cyc_r, reset_cyc_r, read_cyc_r, read_sample_r;
  reg [15:0]            gap_cyc_r, inf_settle_r;
  reg                   adapt_en_r;
  reg [15:0]            min_cyc_r;
  reg [31:0]            step_wait_r; // {REG_STEP_WAIT_HI, REG_STEP_WAIT}: cycles after each read
  reg [NEURON_BITS-1:0] class_thr_r;
  reg [15:0]            dev_idx_r;  // REG_DEV_IDX
  reg [15:0]            in_idx_r;   // REG_IN_IDX
  reg [15:0]            nrn_idx_r;  // REG_NRN_IDX
  reg [N_DEV-1:0]       mask_r;     // device k at bit k
  reg [N_DEV-1:0]       tvalid_r;   // target of device k written since reset
  reg [N_IN*IN_BITS-1:0] input_r;   // input i at [i*IN_BITS +: IN_BITS]
  // per-device storage as memories (no reset; reads gated by the valid/visited bits)
  reg [SENSE_BITS-1:0]  target_mem [0:N_DEV-1];
  reg [15:0]            pcount_mem [0:N_DEV-1];
  reg [SENSE_BITS-1:0]  code_mem [0:N_DEV-1];

  // ---------------------------------------------------------------- results
  reg [N_DEV-1:0]       ok_r, fail_r, visited_r;
  reg [N_DEV-1:0]       cvalid_r;   // code_mem of device k written since reset
  reg [15:0]            nfail_r;
  reg                   run_mode_r;
  reg [N_NEURON*NEURON_BITS-1:0] inf_r;  // neuron n at [n*NEURON_BITS +: NEURON_BITS]
  reg [CLS_W-1:0]       class_r;

  // ---------------------------------------------------------------- FSM state
  reg [3:0]             state;
  reg [2:0]             kind;       // PHASE_* of the pulse in flight
  reg [15:0]            cnt;        // cycles elapsed in the current state
  reg [31:0]            wcnt;       // cycles elapsed in S_STEP_WAIT
  reg [15:0]            npulse;     // write+erase pulses applied to cur_dev
  reg                   adc_got;    // a conversion finished since the last adc_sample rise
  reg [15:0]            wcur;       // write width of cur_dev's next write (cycles, >= 1)
  reg [15:0]            ecur;       // erase width of cur_dev's next erase (cycles, >= 1)
  reg                   dir_valid;  // cur_dev has had a write or erase pulse
  reg                   dir_erase;  // ... and the last one was an erase
  reg [SENSE_BITS-1:0]  sense_lat;
  reg [N_NEURON*NEURON_BITS-1:0] neuron_lat;

  // ---------------------------------------------------------------- decode helpers
  wire idle = (state == S_IDLE);
  wire cfg_we = host_we && idle;    // register writes are taken only while idle
  wire [DEV_W-1:0] di = dev_idx_r[DEV_W-1:0];
  wire [IN_W-1:0] ii = in_idx_r[IN_W-1:0];
  wire [NRN_W-1:0] ni = nrn_idx_r[NRN_W-1:0];
  wire a_dev_ok = (dev_idx_r < N_DEV_16);
  wire a_in_ok = (in_idx_r < N_IN_16);
  wire a_nrn_ok = (nrn_idx_r < N_NEURON_16);
  wire wr_start = cfg_we && (host_addr == REG_CTRL) && host_wdata[CTRL_START];

  // one-hot select of cur_dev (cur_dev < N_DEV always)
  wire [N_DEV-1:0] onehot_cur = {{(N_DEV - 1) {1'b0}}, 1'b1} << cur_dev;

  // width / code of the pulse in flight, with the documented clamps
  // (write/erase widths come from wcur/ecur: the configured widths, halved by adaptation)
  reg [15:0] w_raw;
  reg [PULSE_BITS-1:0] code_of_kind;
  always @(*) begin
    case (kind)
      PHASE_RESET: begin w_raw = reset_cyc_r; code_of_kind = reset_code_r; end
      PHASE_WRITE: begin w_raw = wcur;        code_of_kind = write_code_r; end
      PHASE_ERASE: begin w_raw = ecur;        code_of_kind = erase_code_r; end
      default:     begin w_raw = read_cyc_r;  code_of_kind = read_code_r;  end
    endcase
  end
  wire is_read = (kind == PHASE_READ);
  wire [15:0] w_eff = is_read ? ((w_raw < 16'd2) ? 16'd2 : w_raw)
                              : ((w_raw == 16'd0) ? 16'd1 : w_raw);
  wire [15:0] s_eff = (read_sample_r == 16'd0) ? 16'd1
                    : ((read_sample_r >= w_eff) ? (w_eff - 16'd1) : read_sample_r);
  wire [15:0] gap_eff = (gap_cyc_r == 16'd0) ? 16'd1 : gap_cyc_r;
  wire [15:0] settle_eff = (inf_settle_r == 16'd0) ? 16'd1 : inf_settle_r;

  // adaptive widths: halve(w) = max(w >> 1, min(w, MIN)); a width never grows, never < 1
  wire [15:0] min_eff = (min_cyc_r == 16'd0) ? 16'd1 : min_cyc_r;
  wire [15:0] write_eff = (write_cyc_r == 16'd0) ? 16'd1 : write_cyc_r;
  wire [15:0] erase_eff = (erase_cyc_r == 16'd0) ? 16'd1 : erase_cyc_r;
  wire [15:0] w_half = {1'b0, wcur[15:1]};
  wire [15:0] e_half = {1'b0, ecur[15:1]};
  wire [15:0] wcur_next = (w_half >= min_eff) ? w_half : ((wcur < min_eff) ? wcur : min_eff);
  wire [15:0] ecur_next = (e_half >= min_eff) ? e_half : ((ecur < min_eff) ? ecur : min_eff);

  // verify window (one extra bit so that target +/- window cannot wrap)
  // half-width = max(REG_TOL, target >> REG_TOL_SHIFT) with shift 0 = off (absolute REG_TOL)
  wire [SENSE_BITS-1:0] tgt_cur = tvalid_r[cur_dev] ? target_mem[cur_dev] : {SENSE_BITS{1'b0}};
  wire [16:0] tgt_x = {{(17 - SENSE_BITS) {1'b0}}, tgt_cur};
  wire [16:0] code_x = {{(17 - SENSE_BITS) {1'b0}}, sense_lat};
  wire [16:0] tol_x = {1'b0, tol_r};
  wire [16:0] rel_x = (tol_shift_r == 4'd0) ? 17'd0 : (tgt_x >> tol_shift_r);
  wire [16:0] win_x = (rel_x > tol_x) ? rel_x : tol_x;
  wire too_low = (code_x + win_x) < tgt_x;    // conductance too low -> write
  wire too_high = code_x > (tgt_x + win_x);   // conductance too high -> erase
  wire in_window = !too_low && !too_high;
  wire at_limit = (npulse >= max_pulses_r);   // no write/erase pulse left for cur_dev

  // class of an inference from the latched neuron codes
  wire [CLS_W-1:0] class_next;
  generate
    if (N_OUT == 1) begin : g_class_thr
      // one output neuron: bit0 = (output code >= CLASS_THR)
      assign class_next = (neuron_lat[N_HID*NEURON_BITS+:NEURON_BITS] >= class_thr_r);
    end else begin : g_class_argmax
      // arg-max of the output neurons' codes, the lowest index wins a tie
      reg [CLS_W-1:0] best;
      reg [NEURON_BITS-1:0] best_code;
      integer o;
      always @(*) begin
        best = {CLS_W{1'b0}};
        best_code = neuron_lat[N_HID*NEURON_BITS+:NEURON_BITS];
        for (o = 1; o < N_OUT; o = o + 1) begin
          if (neuron_lat[(N_HID+o)*NEURON_BITS+:NEURON_BITS] > best_code) begin
            best = o[CLS_W-1:0];
            best_code = neuron_lat[(N_HID+o)*NEURON_BITS+:NEURON_BITS];
          end
        end
      end
      assign class_next = best;
    end
  endgenerate

  // ---------------------------------------------------------------- input-DAC codes
  // One register per input, written through the REG_IN_CODE window.  One process for all
  // inputs (the loop unrolls to the same per-input enables): a clocked process per input woke
  // N_IN times per clock in simulation, most of the cost of an idle clock of a 64-input
  // harness in Icarus.
  wire in_we = cfg_we && (host_addr == REG_IN_CODE) && a_in_ok;
  integer k_in;
  always @(posedge clk or negedge rst_n) begin
    if (!rst_n) input_r <= {(N_IN * IN_BITS) {1'b0}};
    else if (in_we)
      for (k_in = 0; k_in < N_IN; k_in = k_in + 1)
        if (ii == k_in[IN_W-1:0]) input_r[k_in*IN_BITS+:IN_BITS] <= host_wdata[IN_BITS-1:0];
  end

  // ---------------------------------------------------------------- memory write ports
  wire tgt_we = rst_n && cfg_we && (host_addr == REG_DEV_TARGET) && a_dev_ok;
  wire pc_clear = (state == S_DEV);                            // new device: count from 0
  wire pc_step = (state == S_EVAL) && !in_window && !at_limit; // one more write/erase pulse
  wire pc_we = rst_n && (pc_clear || pc_step);
  wire code_we = rst_n && (state == S_EVAL);

  // ---------------------------------------------------------------- per-device flag vectors
  // Updated with whole-vector operations and one-hot masks (no dynamic bit-select writes):
  // keeps synthesis linear in N_DEV.  Each update only in the state that makes it (host
  // writes are taken only in S_IDLE), so a simulator evaluates these N_DEV-bit expressions
  // once per device, not at every clock, and tests one variable per clock, not six.
  wire [N_DEV-1:0] onehot_di = {{(N_DEV - 1) {1'b0}}, 1'b1} << di;
  wire mask_we = cfg_we && (host_addr == REG_DEV_MASK) && a_dev_ok;
  wire mask_all_we = cfg_we && (host_addr == REG_MASK_ALL);
  wire run_prog = wr_start && !host_wdata[CTRL_MODE];     // a programming run starts
  always @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      mask_r <= {N_DEV{1'b0}};
      tvalid_r <= {N_DEV{1'b0}};
      cvalid_r <= {N_DEV{1'b0}};
      ok_r <= {N_DEV{1'b0}};
      fail_r <= {N_DEV{1'b0}};
      visited_r <= {N_DEV{1'b0}};
    end else begin
      case (state)
        S_IDLE: if (cfg_we) begin
          if (mask_all_we) mask_r <= {N_DEV{host_wdata[0]}};
          else if (mask_we) mask_r <= (mask_r & ~onehot_di) | (host_wdata[0] ? onehot_di : {N_DEV{1'b0}});
          if (tgt_we) tvalid_r <= tvalid_r | onehot_di;
          if (run_prog) begin
            ok_r <= {N_DEV{1'b0}};
            fail_r <= {N_DEV{1'b0}};
            visited_r <= {N_DEV{1'b0}};  // also hides the pulse counts of the last run
          end
        end
        S_DEV: visited_r <= visited_r | onehot_cur;  // pcount_mem[cur_dev] <= 0 (below)
        S_EVAL: begin
          cvalid_r <= cvalid_r | onehot_cur;  // code_mem[cur_dev] written in S_EVAL
          if (in_window) ok_r <= ok_r | onehot_cur;
          else if (at_limit) fail_r <= fail_r | onehot_cur;
        end
        default: ;
      endcase
    end
  end

  always @(posedge clk) begin  // memory write ports
    if (tgt_we) target_mem[di] <= host_wdata[SENSE_BITS-1:0];
    if (pc_we) pcount_mem[cur_dev] <= pc_clear ? 16'd0 : (npulse + 16'd1);
    if (code_we) code_mem[cur_dev] <= sense_lat;
  end

  // ---------------------------------------------------------------- host writes
  always @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      mode_r <= 1'b0;
      tol_r <= 16'd0;
      tol_shift_r <= 4'd0;
      max_pulses_r <= 16'd0;
      reset_en_r <= 1'b0;
      write_code_r <= {PULSE_BITS{1'b0}};
      erase_code_r <= {PULSE_BITS{1'b0}};
      reset_code_r <= {PULSE_BITS{1'b0}};
      read_code_r <= {PULSE_BITS{1'b0}};
      write_cyc_r <= 16'd0;
      erase_cyc_r <= 16'd0;
      reset_cyc_r <= 16'd0;
      read_cyc_r <= 16'd0;
      read_sample_r <= 16'd0;
      gap_cyc_r <= 16'd0;
      inf_settle_r <= 16'd0;
      adapt_en_r <= 1'b0;
      min_cyc_r <= 16'd0;
      step_wait_r <= 32'd0;
      class_thr_r <= {NEURON_BITS{1'b0}};
      dev_idx_r <= 16'd0;
      in_idx_r <= 16'd0;
      nrn_idx_r <= 16'd0;
    end else if (host_we) begin
      // index registers: pointers of the host's windows, writable at any time
      case (host_addr)
        REG_DEV_IDX: dev_idx_r <= host_wdata;
        REG_IN_IDX: in_idx_r <= host_wdata;
        REG_NRN_IDX: nrn_idx_r <= host_wdata;
        default: ;
      endcase
      // everything else only while idle
      if (idle) begin
        case (host_addr)
          REG_CTRL: mode_r <= host_wdata[CTRL_MODE];
          REG_TOL: tol_r <= host_wdata;
          REG_TOL_SHIFT: tol_shift_r <= host_wdata[3:0];
          REG_MAX_PULSES: max_pulses_r <= host_wdata;
          REG_RESET_EN: reset_en_r <= host_wdata[0];
          REG_WRITE_CODE: write_code_r <= host_wdata[PULSE_BITS-1:0];
          REG_WRITE_CYC: write_cyc_r <= host_wdata;
          REG_ERASE_CODE: erase_code_r <= host_wdata[PULSE_BITS-1:0];
          REG_ERASE_CYC: erase_cyc_r <= host_wdata;
          REG_RESET_CODE: reset_code_r <= host_wdata[PULSE_BITS-1:0];
          REG_RESET_CYC: reset_cyc_r <= host_wdata;
          REG_READ_CODE: read_code_r <= host_wdata[PULSE_BITS-1:0];
          REG_READ_CYC: read_cyc_r <= host_wdata;
          REG_READ_SAMPLE: read_sample_r <= host_wdata;
          REG_GAP_CYC: gap_cyc_r <= host_wdata;
          REG_INF_SETTLE: inf_settle_r <= host_wdata;
          REG_CLASS_THR: class_thr_r <= host_wdata[NEURON_BITS-1:0];
          REG_ADAPT: adapt_en_r <= host_wdata[ADAPT_EN];
          REG_MIN_CYC: min_cyc_r <= host_wdata;
          REG_STEP_WAIT: step_wait_r[15:0] <= host_wdata;
          REG_STEP_WAIT_HI: step_wait_r[31:16] <= host_wdata;
          // data of these three: target_mem, mask_r, input_r (own processes)
          REG_DEV_TARGET: dev_idx_r <= dev_idx_r + 16'd1;
          REG_IN_CODE: in_idx_r <= in_idx_r + 16'd1;
          default: ;
        endcase
      end
    end
  end

  // ---------------------------------------------------------------- host reads (combinational)
  always @(*) begin
    host_rdata = 16'd0;
    case (host_addr)
      REG_CTRL: host_rdata[CTRL_MODE] = mode_r;
      REG_STATUS: begin
        host_rdata[STATUS_BUSY] = busy;
        host_rdata[STATUS_DONE] = done;
        host_rdata[STATUS_MODE] = run_mode_r;
      end
      REG_NFAIL: host_rdata = nfail_r;
      REG_TOL: host_rdata = tol_r;
      REG_TOL_SHIFT: host_rdata[3:0] = tol_shift_r;
      REG_MAX_PULSES: host_rdata = max_pulses_r;
      REG_RESET_EN: host_rdata[0] = reset_en_r;
      REG_WRITE_CODE: host_rdata[PULSE_BITS-1:0] = write_code_r;
      REG_WRITE_CYC: host_rdata = write_cyc_r;
      REG_ERASE_CODE: host_rdata[PULSE_BITS-1:0] = erase_code_r;
      REG_ERASE_CYC: host_rdata = erase_cyc_r;
      REG_RESET_CODE: host_rdata[PULSE_BITS-1:0] = reset_code_r;
      REG_RESET_CYC: host_rdata = reset_cyc_r;
      REG_READ_CODE: host_rdata[PULSE_BITS-1:0] = read_code_r;
      REG_READ_CYC: host_rdata = read_cyc_r;
      REG_READ_SAMPLE: host_rdata = read_sample_r;
      REG_GAP_CYC: host_rdata = gap_cyc_r;
      REG_INF_SETTLE: host_rdata = inf_settle_r;
      REG_CLASS_THR: host_rdata[NEURON_BITS-1:0] = class_thr_r;
      REG_INF_CLASS: host_rdata[CLS_W-1:0] = class_r;
      REG_ADAPT: host_rdata[ADAPT_EN] = adapt_en_r;
      REG_MIN_CYC: host_rdata = min_cyc_r;
      REG_STEP_WAIT: host_rdata = step_wait_r[15:0];
      REG_STEP_WAIT_HI: host_rdata = step_wait_r[31:16];
      REG_DEV_IDX: host_rdata = dev_idx_r;
      REG_DEV_TARGET:
        if (a_dev_ok && tvalid_r[di]) host_rdata[SENSE_BITS-1:0] = target_mem[di];
      REG_DEV_MASK: if (a_dev_ok) host_rdata[0] = mask_r[di];
      REG_DEV_PCOUNT: if (a_dev_ok && visited_r[di]) host_rdata = pcount_mem[di];
      REG_DEV_FLAG:
        if (a_dev_ok) begin
          host_rdata[FLAG_OK] = ok_r[di];
          host_rdata[FLAG_FAIL] = fail_r[di];
          host_rdata[FLAG_DONE] = visited_r[di];
        end
      REG_DEV_CODE: if (a_dev_ok && cvalid_r[di]) host_rdata[SENSE_BITS-1:0] = code_mem[di];
      REG_IN_IDX: host_rdata = in_idx_r;
      REG_IN_CODE: if (a_in_ok) host_rdata[IN_BITS-1:0] = input_r[ii*IN_BITS+:IN_BITS];
      REG_NRN_IDX: host_rdata = nrn_idx_r;
      REG_NRN_CODE: if (a_nrn_ok) host_rdata[NEURON_BITS-1:0] = inf_r[ni*NEURON_BITS+:NEURON_BITS];
      REG_N_IN: host_rdata = N_IN_16;
      REG_N_HID: host_rdata = N_HID_16;
      REG_N_OUT: host_rdata = N_OUT_16;
      REG_N_DEV: host_rdata = N_DEV_16;
      default: ;
    endcase
  end

  // ---------------------------------------------------------------- sequencer
  always @(posedge clk or negedge rst_n) begin
    if (!rst_n) begin
      state <= S_IDLE;
      kind <= PHASE_READ;
      cnt <= 16'd0;
      wcnt <= 32'd0;
      npulse <= 16'd0;
      start <= 1'b0;
      busy <= 1'b0;
      done <= 1'b0;
      phase <= PHASE_IDLE;
      sel <= {N_DEV{1'b0}};
      cur_dev <= {DEV_W{1'b0}};
      infer_en <= 1'b0;
      pulse_on <= 1'b0;
      pulse_code <= {PULSE_BITS{1'b0}};
      in_codes <= {(N_IN * IN_BITS) {1'b0}};
      adc_sample <= 1'b0;
      adc_got <= 1'b0;
      wcur <= 16'd1;
      ecur <= 16'd1;
      dir_valid <= 1'b0;
      dir_erase <= 1'b0;
      sense_lat <= {SENSE_BITS{1'b0}};
      neuron_lat <= {(N_NEURON * NEURON_BITS) {1'b0}};
      nfail_r <= 16'd0;
      run_mode_r <= 1'b0;
      class_r <= {CLS_W{1'b0}};
      inf_r <= {(N_NEURON * NEURON_BITS) {1'b0}};
    end else begin
      start <= 1'b0;
      cnt <= cnt + 16'd1;

      // ADC handshake runs beside the sequencer: drop the S/H command on valid
      if (adc_valid) begin  // nested: one test per clock in simulation while no conversion ends
        if (adc_sample) begin
          adc_sample <= 1'b0;
          adc_got <= 1'b1;
          sense_lat <= sense_code;
          neuron_lat <= neuron_codes;
        end
      end

      case (state)
        S_IDLE: begin
          if (wr_start) begin
            start <= 1'b1;
            busy <= 1'b1;
            done <= 1'b0;
            run_mode_r <= host_wdata[CTRL_MODE];
            cur_dev <= {DEV_W{1'b0}};
            if (host_wdata[CTRL_MODE]) begin
              state <= S_INF_ON;
            end else begin
              nfail_r <= 16'd0;             // flags: see the flag process
              state <= S_SCAN;
            end
          end
        end

        // ---- programming: find the next masked device (index order)
        S_SCAN: begin
          phase <= PHASE_IDLE;
          if (mask_r[cur_dev]) state <= S_DEV;
          else if (cur_dev == LAST_DEV) state <= S_FINISH;
          else cur_dev <= cur_dev + ONE_DEV;
        end
        S_DEV: begin
          npulse <= 16'd0;
          wcur <= write_eff;
          ecur <= erase_eff;
          dir_valid <= 1'b0;
          kind <= reset_en_r ? PHASE_RESET : PHASE_READ;
          phase <= reset_en_r ? PHASE_RESET : PHASE_READ;
          sel <= onehot_cur;
          cnt <= 16'd0;
          state <= S_SETUP;
        end

        // ---- one pulse: select setup, pulse, select hold, deselected gap
        S_SETUP: begin
          if (cnt == SEL_SETUP_CYC - 16'd1) begin
            pulse_on <= 1'b1;
            pulse_code <= code_of_kind;
            adc_got <= 1'b0;
            cnt <= 16'd0;
            state <= S_PULSE;
          end
        end
        S_PULSE: begin
          if (is_read && (cnt == s_eff - 16'd1)) adc_sample <= 1'b1;
          if (cnt == w_eff - 16'd1) begin
            pulse_on <= 1'b0;
            pulse_code <= {PULSE_BITS{1'b0}};
            cnt <= 16'd0;
            state <= S_HOLD;
          end
        end
        S_HOLD: begin
          if (cnt == SEL_HOLD_CYC - 16'd1) begin
            sel <= {N_DEV{1'b0}};
            cnt <= 16'd0;
            state <= S_GAP;
          end
        end
        S_GAP: begin
          if (cnt == gap_eff - 16'd1) begin
            cnt <= 16'd0;
            if (is_read) begin
              state <= S_WAIT_ADC;
            end else begin
              kind <= PHASE_READ;
              phase <= PHASE_READ;
              sel <= onehot_cur;
              state <= S_SETUP;
            end
          end
        end
        S_WAIT_ADC: begin
          if (adc_got) begin
            if (step_wait_r == 32'd0) begin
              state <= S_EVAL;
            end else begin
              // host/MCU step latency: exactly step_wait_r cycles, shown as phase idle
              phase <= PHASE_IDLE;
              wcnt <= 32'd0;
              state <= S_STEP_WAIT;
            end
          end
        end
        S_STEP_WAIT: begin
          wcnt <= wcnt + 32'd1;
          if (wcnt == step_wait_r - 32'd1) begin
            phase <= PHASE_READ;  // the decision cycle is read phase, as without a wait
            state <= S_EVAL;
          end
        end

        // ---- verify decision (code_mem, pcount_mem, ok_r, fail_r: see their processes)
        S_EVAL: begin
          if (in_window) begin
            state <= (cur_dev == LAST_DEV) ? S_FINISH : S_SCAN;
            if (cur_dev != LAST_DEV) cur_dev <= cur_dev + ONE_DEV;
          end else if (at_limit) begin
            nfail_r <= nfail_r + 16'd1;
            state <= (cur_dev == LAST_DEV) ? S_FINISH : S_SCAN;
            if (cur_dev != LAST_DEV) cur_dev <= cur_dev + ONE_DEV;
          end else begin
            npulse <= npulse + 16'd1;     // pcount_mem[cur_dev] <= npulse + 1
            // direction reversal: this pulse and all later ones of cur_dev use halved widths
            if (adapt_en_r && dir_valid && (dir_erase == too_low)) begin
              wcur <= wcur_next;
              ecur <= ecur_next;
            end
            dir_valid <= 1'b1;
            dir_erase <= !too_low;
            kind <= too_low ? PHASE_WRITE : PHASE_ERASE;
            phase <= too_low ? PHASE_WRITE : PHASE_ERASE;
            sel <= onehot_cur;
            cnt <= 16'd0;
            state <= S_SETUP;
          end
        end

        // ---- inference
        S_INF_ON: begin
          phase <= PHASE_INFER;
          infer_en <= 1'b1;
          in_codes <= input_r;
          cnt <= 16'd0;
          state <= S_INF_SETTLE;
        end
        S_INF_SETTLE: begin
          if (cnt == settle_eff - 16'd1) begin
            adc_sample <= 1'b1;
            adc_got <= 1'b0;
            state <= S_INF_WAIT;
          end
        end
        S_INF_WAIT: begin
          if (adc_got) begin
            inf_r <= neuron_lat;
            class_r <= class_next;
            infer_en <= 1'b0;
            in_codes <= {(N_IN * IN_BITS) {1'b0}};
            state <= S_FINISH;
          end
        end

        S_FINISH: begin
          busy <= 1'b0;
          done <= 1'b1;
          phase <= PHASE_IDLE;
          sel <= {N_DEV{1'b0}};
          state <= S_IDLE;
        end
        default: state <= S_IDLE;
      endcase
    end
  end

`ifdef FORMAL
  // properties, assumptions and covers (Yosys `read_verilog -sv -formal`; `make formal`)
`include "hdl/formal/xbar_ctrl_props.vh"
`endif
endmodule

`default_nettype wire
