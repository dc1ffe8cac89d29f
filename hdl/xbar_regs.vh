// Register map of the crossbar training controller (xbar_ctrl).
//
// SINGLE SOURCE OF TRUTH: cosim/controller.py parses every `localparam` line of this file
// (one per line, `localparam [w:0] NAME = <Verilog number>;`).  Do not restate these numbers
// anywhere else.  Included inside the body of xbar_ctrl; include path is relative to the
// repository root ("hdl/xbar_regs.vh"), so tools run from the root or get -I<root>.
//
// Host bus: 8-bit address, 16-bit data.  Writes are sampled on the rising clock edge when
// host_we = 1; host_rdata is COMBINATIONAL from host_addr (no read latency).

// ---- sizes -------------------------------------------------------------------------------
localparam integer N_DEV = 30;            // 27 layer-1 + 3 layer-2 devices
localparam integer N_IN = 9;              // inference inputs
localparam integer N_NEURON = 4;          // h0, h1, h2, out

// ---- scalar registers --------------------------------------------------------------------
localparam [7:0] REG_CTRL = 8'h00;        // W: bit START (strobe), bit MODE; R: MODE
localparam [7:0] REG_STATUS = 8'h01;      // R: bit BUSY, bit DONE, bit MODE of the last run
localparam [7:0] REG_NFAIL = 8'h02;       // R: devices flagged failed in the last program run
localparam [7:0] REG_TOL = 8'h03;         // RW: verify window half-width floor (sense ADC codes)
localparam [7:0] REG_MAX_PULSES = 8'h04;  // RW: max write+erase pulses per device
localparam [7:0] REG_RESET_EN = 8'h05;    // RW: bit0 = reset pulse before each device
localparam [7:0] REG_WRITE_CODE = 8'h06;  // RW: pulse-DAC code of a write (signed)
localparam [7:0] REG_WRITE_CYC = 8'h07;   // RW: write pulse width (clock cycles, 0 -> 1)
localparam [7:0] REG_ERASE_CODE = 8'h08;  // RW: pulse-DAC code of an erase (signed)
localparam [7:0] REG_ERASE_CYC = 8'h09;   // RW: erase pulse width (cycles, 0 -> 1)
localparam [7:0] REG_RESET_CODE = 8'h0A;  // RW: pulse-DAC code of the reset pulse (signed)
localparam [7:0] REG_RESET_CYC = 8'h0B;   // RW: reset pulse width (cycles, 0 -> 1)
localparam [7:0] REG_READ_CODE = 8'h0C;   // RW: pulse-DAC code of a read (signed)
localparam [7:0] REG_READ_CYC = 8'h0D;    // RW: read pulse width (cycles, < 2 -> 2)
localparam [7:0] REG_READ_SAMPLE = 8'h0E; // RW: cycles from read-pulse start to adc_sample rise
localparam [7:0] REG_GAP_CYC = 8'h0F;     // RW: deselected cycles after each pulse (0 -> 1)
localparam [7:0] REG_MASK_LO = 8'h10;     // RW: program mask, devices 0..15
localparam [7:0] REG_MASK_HI = 8'h11;     // RW: program mask, devices 16..29 (bits 13:0)
localparam [7:0] REG_INF_SETTLE = 8'h12;  // RW: cycles from inputs on to adc_sample (0 -> 1)
localparam [7:0] REG_CLASS_THR = 8'h13;   // RW: class = (out code >= this)
localparam [7:0] REG_INF_H0 = 8'h14;      // R: neuron ADC code of h0 (last inference)
localparam [7:0] REG_INF_H1 = 8'h15;      // R: h1
localparam [7:0] REG_INF_H2 = 8'h16;      // R: h2
localparam [7:0] REG_INF_OUT = 8'h17;     // R: output neuron
localparam [7:0] REG_INF_CLASS = 8'h18;   // R: bit0 class of the last inference
localparam [7:0] REG_ADAPT = 8'h19;       // RW: bit ADAPT_EN = halve write/erase widths on reversal
localparam [7:0] REG_MIN_CYC = 8'h1A;     // RW: smallest adaptive write/erase width (cycles, 0 -> 1)
localparam [7:0] REG_STEP_WAIT = 8'h1B;   // RW: host/MCU step latency, cycles [15:0] (0 = off)
localparam [7:0] REG_STEP_WAIT_HI = 8'h1C; // RW: ... cycles [31:16]; wait after every verify read
localparam [7:0] REG_TOL_SHIFT = 8'h1D;   // RW: bits [3:0] s; window = max(TOL, target >> s) (0 = off)

// ---- per-device / per-input arrays (base + index; bases are multiples of 0x20) -----------
localparam [7:0] REG_TARGET_BASE = 8'h20; // RW: target sense-ADC code of device k
localparam [7:0] REG_PCOUNT_BASE = 8'h40; // R: write+erase pulses applied to device k
localparam [7:0] REG_FLAG_BASE = 8'h60;   // R: bit FLAG_OK / FLAG_FAIL / FLAG_DONE of device k
localparam [7:0] REG_CODE_BASE = 8'h80;   // R: last verify (sense ADC) code of device k
localparam [7:0] REG_INPUT_BASE = 8'hA0;  // RW: input-DAC code of inference input i (0..8)

// ---- bit positions -----------------------------------------------------------------------
localparam integer CTRL_START = 0;
localparam integer CTRL_MODE = 1;         // 0 = program (write-verify), 1 = inference
localparam integer STATUS_BUSY = 0;
localparam integer STATUS_DONE = 1;
localparam integer STATUS_MODE = 2;
localparam integer FLAG_OK = 0;
localparam integer FLAG_FAIL = 1;
localparam integer FLAG_DONE = 2;
localparam integer ADAPT_EN = 0;

// ---- phase codes (top-level phase[2:0]) --------------------------------------------------
localparam [2:0] PHASE_IDLE = 3'd0;
localparam [2:0] PHASE_RESET = 3'd1;
localparam [2:0] PHASE_WRITE = 3'd2;
localparam [2:0] PHASE_ERASE = 3'd3;
localparam [2:0] PHASE_READ = 3'd4;
localparam [2:0] PHASE_INFER = 3'd5;

// ---- fixed timing of every pulse (clock cycles) ------------------------------------------
localparam [15:0] SEL_SETUP_CYC = 16'd2;  // sel on -> pulse on
localparam [15:0] SEL_HOLD_CYC = 16'd2;   // pulse off -> sel off
