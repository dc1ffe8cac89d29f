// xbar_ctrl: write-verify training controller and inference sequencer for the 9->3->1
// memristor crossbar (30 devices, one shared programming/read source, one-hot select lines).
//
// Synthesizable Verilog-2005.  Digital codes only: the DACs/ADCs are outside (hdl/behav/).
// Register map: hdl/xbar_regs.vh.  Timing contract: docs/controller.md.
//
// All outputs are registered.  pulse_code is 0 whenever pulse_on is 0 and in_codes are 0
// whenever infer_en is 0, so a DAC output changes exactly once per code change.
`timescale 1ns / 1ps
`default_nettype none

module xbar_ctrl #(
    parameter integer PULSE_BITS = 12,   // pulse DAC width (two's complement code)
    parameter integer IN_BITS = 12,      // input DAC width (unsigned code)
    parameter integer SENSE_BITS = 12,   // sense ADC width
    parameter integer NEURON_BITS = 12   // neuron ADC width
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
    output reg [29:0] sel,
    output reg [4:0] cur_dev,
    output reg infer_en,
    // to the DACs
    output reg pulse_on,
    output reg [PULSE_BITS-1:0] pulse_code,
    output reg [9*IN_BITS-1:0] in_codes,    // input i at [i*IN_BITS +: IN_BITS]
    // ADC handshake
    output reg adc_sample,                  // sample-and-hold command; held until adc_valid
    input wire adc_valid,                   // one-cycle strobe: codes below are converted
    input wire [SENSE_BITS-1:0] sense_code,
    input wire [4*NEURON_BITS-1:0] neuron_codes  // h0, h1, h2, out at [n*NEURON_BITS +: ...]
);

  /* verilator lint_off UNUSEDPARAM */
`include "hdl/xbar_regs.vh"
  /* verilator lint_on UNUSEDPARAM */

  // ---------------------------------------------------------------- FSM states
  localparam [3:0] S_IDLE = 4'd0, S_SCAN = 4'd1, S_DEV = 4'd2, S_SETUP = 4'd3,
                   S_PULSE = 4'd4, S_HOLD = 4'd5, S_GAP = 4'd6, S_WAIT_ADC = 4'd7,
                   S_EVAL = 4'd8, S_INF_ON = 4'd9, S_INF_SETTLE = 4'd10,
                   S_INF_WAIT = 4'd11, S_FINISH = 4'd12, S_STEP_WAIT = 4'd13;
  localparam [4:0] LAST_DEV = 5'd29;

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
  reg [29:0]            mask_r;
  reg [NEURON_BITS-1:0] class_thr_r;
  reg [30*SENSE_BITS-1:0] target_r;   // device k at [k*SENSE_BITS +: SENSE_BITS]
  reg [9*IN_BITS-1:0]   input_r;    // input i at [i*IN_BITS +: IN_BITS]

  // ---------------------------------------------------------------- results
  reg [30*16-1:0]       pcount_r;   // device k at [k*16 +: 16]
  reg [30*SENSE_BITS-1:0] code_r;     // device k at [k*SENSE_BITS +: SENSE_BITS]
  reg [29:0]            ok_r, fail_r, visited_r;
  reg [7:0]             nfail_r;
  reg                   run_mode_r;
  reg [4*NEURON_BITS-1:0] inf_r;     // h0, h1, h2, out
  reg                   class_r;

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
  reg [4*NEURON_BITS-1:0] neuron_lat;

  // ---------------------------------------------------------------- decode helpers
  wire [2:0] a_hi = host_addr[7:5];
  wire [4:0] a_ix = host_addr[4:0];
  wire a_dev_ok = (a_ix < 5'd30);
  wire a_in_ok = (a_ix < 5'd9);
  wire wr_start = host_we && (host_addr == REG_CTRL) && host_wdata[CTRL_START] && (state == S_IDLE);

  // one-hot select of cur_dev (all zero for indices >= 30, which never occur)
  wire [29:0] onehot_cur = 30'd1 << cur_dev;

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
  wire [16:0] tgt_x = {{(17 - SENSE_BITS) {1'b0}}, target_r[cur_dev*SENSE_BITS+:SENSE_BITS]};
  wire [16:0] code_x = {{(17 - SENSE_BITS) {1'b0}}, sense_lat};
  wire [16:0] tol_x = {1'b0, tol_r};
  wire [16:0] rel_x = (tol_shift_r == 4'd0) ? 17'd0 : (tgt_x >> tol_shift_r);
  wire [16:0] win_x = (rel_x > tol_x) ? rel_x : tol_x;
  wire too_low = (code_x + win_x) < tgt_x;    // conductance too low -> write
  wire too_high = code_x > (tgt_x + win_x);   // conductance too high -> erase

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
      mask_r <= 30'd0;
      class_thr_r <= {NEURON_BITS{1'b0}};
      target_r <= {(30 * SENSE_BITS) {1'b0}};
      input_r <= {(9 * IN_BITS) {1'b0}};
    end else if (host_we) begin
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
        REG_MASK_LO: mask_r[15:0] <= host_wdata;
        REG_MASK_HI: mask_r[29:16] <= host_wdata[13:0];
        REG_INF_SETTLE: inf_settle_r <= host_wdata;
        REG_CLASS_THR: class_thr_r <= host_wdata[NEURON_BITS-1:0];
        REG_ADAPT: adapt_en_r <= host_wdata[ADAPT_EN];
        REG_MIN_CYC: min_cyc_r <= host_wdata;
        REG_STEP_WAIT: step_wait_r[15:0] <= host_wdata;
        REG_STEP_WAIT_HI: step_wait_r[31:16] <= host_wdata;
        default: begin
          if (a_hi == REG_TARGET_BASE[7:5] && a_dev_ok)
            target_r[a_ix*SENSE_BITS+:SENSE_BITS] <= host_wdata[SENSE_BITS-1:0];
          if (a_hi == REG_INPUT_BASE[7:5] && a_in_ok)
            input_r[a_ix*IN_BITS+:IN_BITS] <= host_wdata[IN_BITS-1:0];
        end
      endcase
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
      REG_NFAIL: host_rdata[7:0] = nfail_r;
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
      REG_MASK_LO: host_rdata = mask_r[15:0];
      REG_MASK_HI: host_rdata[13:0] = mask_r[29:16];
      REG_INF_SETTLE: host_rdata = inf_settle_r;
      REG_CLASS_THR: host_rdata[NEURON_BITS-1:0] = class_thr_r;
      REG_INF_H0: host_rdata[NEURON_BITS-1:0] = inf_r[0*NEURON_BITS+:NEURON_BITS];
      REG_INF_H1: host_rdata[NEURON_BITS-1:0] = inf_r[1*NEURON_BITS+:NEURON_BITS];
      REG_INF_H2: host_rdata[NEURON_BITS-1:0] = inf_r[2*NEURON_BITS+:NEURON_BITS];
      REG_INF_OUT: host_rdata[NEURON_BITS-1:0] = inf_r[3*NEURON_BITS+:NEURON_BITS];
      REG_INF_CLASS: host_rdata[0] = class_r;
      REG_ADAPT: host_rdata[ADAPT_EN] = adapt_en_r;
      REG_MIN_CYC: host_rdata = min_cyc_r;
      REG_STEP_WAIT: host_rdata = step_wait_r[15:0];
      REG_STEP_WAIT_HI: host_rdata = step_wait_r[31:16];
      default: begin
        if (a_dev_ok) begin
          if (a_hi == REG_TARGET_BASE[7:5]) host_rdata[SENSE_BITS-1:0] = target_r[a_ix*SENSE_BITS+:SENSE_BITS];
          if (a_hi == REG_PCOUNT_BASE[7:5]) host_rdata = pcount_r[a_ix*16+:16];
          if (a_hi == REG_FLAG_BASE[7:5]) begin
            host_rdata[FLAG_OK] = ok_r[a_ix];
            host_rdata[FLAG_FAIL] = fail_r[a_ix];
            host_rdata[FLAG_DONE] = visited_r[a_ix];
          end
          if (a_hi == REG_CODE_BASE[7:5]) host_rdata[SENSE_BITS-1:0] = code_r[a_ix*SENSE_BITS+:SENSE_BITS];
        end
        if (a_in_ok && a_hi == REG_INPUT_BASE[7:5])
          host_rdata[IN_BITS-1:0] = input_r[a_ix*IN_BITS+:IN_BITS];
      end
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
      sel <= 30'd0;
      cur_dev <= 5'd0;
      infer_en <= 1'b0;
      pulse_on <= 1'b0;
      pulse_code <= {PULSE_BITS{1'b0}};
      in_codes <= {(9 * IN_BITS) {1'b0}};
      adc_sample <= 1'b0;
      adc_got <= 1'b0;
      wcur <= 16'd1;
      ecur <= 16'd1;
      dir_valid <= 1'b0;
      dir_erase <= 1'b0;
      sense_lat <= {SENSE_BITS{1'b0}};
      neuron_lat <= {(4 * NEURON_BITS) {1'b0}};
      ok_r <= 30'd0;
      fail_r <= 30'd0;
      visited_r <= 30'd0;
      nfail_r <= 8'd0;
      run_mode_r <= 1'b0;
      class_r <= 1'b0;
      pcount_r <= {(30 * 16) {1'b0}};
      code_r <= {(30 * SENSE_BITS) {1'b0}};
      inf_r <= {(4 * NEURON_BITS) {1'b0}};
    end else begin
      start <= 1'b0;
      cnt <= cnt + 16'd1;

      // ADC handshake runs beside the sequencer: drop the S/H command on valid
      if (adc_valid && adc_sample) begin
        adc_sample <= 1'b0;
        adc_got <= 1'b1;
        sense_lat <= sense_code;
        neuron_lat <= neuron_codes;
      end

      case (state)
        S_IDLE: begin
          if (wr_start) begin
            start <= 1'b1;
            busy <= 1'b1;
            done <= 1'b0;
            run_mode_r <= host_wdata[CTRL_MODE];
            cur_dev <= 5'd0;
            if (host_wdata[CTRL_MODE]) begin
              state <= S_INF_ON;
            end else begin
              ok_r <= 30'd0;
              fail_r <= 30'd0;
              visited_r <= 30'd0;
              nfail_r <= 8'd0;
              pcount_r <= {(30 * 16) {1'b0}};
              state <= S_SCAN;
            end
          end
        end

        // ---- programming: find the next masked device (index order)
        S_SCAN: begin
          phase <= PHASE_IDLE;
          if (mask_r[cur_dev]) state <= S_DEV;
          else if (cur_dev == LAST_DEV) state <= S_FINISH;
          else cur_dev <= cur_dev + 5'd1;
        end
        S_DEV: begin
          npulse <= 16'd0;
          wcur <= write_eff;
          ecur <= erase_eff;
          dir_valid <= 1'b0;
          visited_r[cur_dev] <= 1'b1;
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
            sel <= 30'd0;
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

        // ---- verify decision
        S_EVAL: begin
          code_r[cur_dev*SENSE_BITS+:SENSE_BITS] <= sense_lat;
          if (!too_low && !too_high) begin
            ok_r[cur_dev] <= 1'b1;
            state <= (cur_dev == LAST_DEV) ? S_FINISH : S_SCAN;
            if (cur_dev != LAST_DEV) cur_dev <= cur_dev + 5'd1;
          end else if (npulse >= max_pulses_r) begin
            fail_r[cur_dev] <= 1'b1;
            nfail_r <= nfail_r + 8'd1;
            state <= (cur_dev == LAST_DEV) ? S_FINISH : S_SCAN;
            if (cur_dev != LAST_DEV) cur_dev <= cur_dev + 5'd1;
          end else begin
            npulse <= npulse + 16'd1;
            pcount_r[cur_dev*16+:16] <= npulse + 16'd1;
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
            class_r <= (neuron_lat[3*NEURON_BITS+:NEURON_BITS] >= class_thr_r);
            infer_en <= 1'b0;
            in_codes <= {(9 * IN_BITS) {1'b0}};
            state <= S_FINISH;
          end
        end

        S_FINISH: begin
          busy <= 1'b0;
          done <= 1'b1;
          phase <= PHASE_IDLE;
          sel <= 30'd0;
          state <= S_IDLE;
        end
        default: state <= S_IDLE;
      endcase
    end
  end

endmodule

`default_nettype wire
